"""The conformance kit: one set of end-to-end tests every driver must pass.

Run it against any installed driver by URL::

    pytest --pyargs messaging.testing --transport-url 'rabbit://guest:guest@127.0.0.1:5672/'

(or set ``MESSAGING_TRANSPORT_URL``; several ``--transport-url`` options run
the kit once per URL). The pytest plugin :mod:`messaging.testing.plugin` is
registered through the ``pytest11`` entry point and provides the fixtures
``messaging_url``, ``messaging_transport``, ``messaging_notification_transport`` and
``messaging_topic`` (prefixed, so they never shadow fixtures of your own).
Tests read ``transport.capabilities`` to skip what a driver declares it does
not offer. A broker that cannot be reached skips the kit, unless
``MESSAGING_REQUIRE_BROKERS=1``, where it fails.

Every test uses fresh topic names, but topic and notification queues outlive
their consumers (as on oslo.messaging), so point the kit at a virtual host of
its own and delete it afterwards (``tox -e func-rabbit`` does).
"""

from .helpers import Recorder, running_server, wait_for

__all__ = ["Recorder", "running_server", "wait_for"]
