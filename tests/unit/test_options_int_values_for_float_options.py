"""Five options oslo.messaging types as integers are floats here; an oslo integer value works.

``rpc_response_timeout``, ``kombu_missing_consumer_retry_timeout``,
``rabbit_interval_max``, ``rabbit_retry_backoff`` and ``rabbit_retry_interval``
take fractions of a second here (``0.5``). Whatever a service wrote for
oslo.messaging, an integer, must keep working: in a configuration file, as
a ``ConfFixture``/``set_override`` value, in a URL query, and when
oslo.messaging (or anyone) registered the option as an ``IntOpt`` on the
same ``ConfigOpts`` first.
"""

from __future__ import annotations

import pytest

import messaging
from messaging.options import all_option_groups, resolve_options

cfg = pytest.importorskip("oslo_config.cfg")

RABBIT = {"kombu_missing_consumer_retry_timeout": 45, "rabbit_interval_max": 20,
          "rabbit_retry_backoff": 3, "rabbit_retry_interval": 2}
FLOATS = {("DEFAULT", "rpc_response_timeout"),
          *(("oslo_messaging_rabbit", name) for name in RABBIT)}


def _rabbit(conf, query=None):
    table = all_option_groups()["oslo_messaging_rabbit"]
    return resolve_options(conf, "oslo_messaging_rabbit", table, query)


def test_these_five_are_floats(tmp_path):
    from messaging import opts

    types = {(group or "DEFAULT", o.name): type(o).__name__
             for group, options in opts.list_opts() for o in options}
    assert {key: types[key] for key in FLOATS} == dict.fromkeys(FLOATS, "FloatOpt")


def test_integers_from_an_oslo_configuration_file(tmp_path):
    path = tmp_path / "svc.conf"
    path.write_text("[DEFAULT]\nrpc_response_timeout = 30\ntransport_url = fake://\n"
                    "[oslo_messaging_rabbit]\n"
                    + "".join(f"{k} = {v}\n" for k, v in RABBIT.items()))
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    with messaging.get_rpc_transport(conf) as transport:
        assert transport.rpc_response_timeout == 30
    assert {k: v for k, v in _rabbit(conf).items() if k in RABBIT} == RABBIT


def test_integer_overrides_and_fixture_values():
    from messaging import conffixture

    conf = cfg.ConfigOpts()
    conf([])
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()
    try:
        fixture.response_timeout = 5
        for name, value in RABBIT.items():
            conf.set_override(name, value, group="oslo_messaging_rabbit")
        with messaging.get_rpc_transport(conf, "fake://") as transport:
            assert transport.rpc_response_timeout == 5
        assert {k: v for k, v in _rabbit(conf).items() if k in RABBIT} == RABBIT
    finally:
        fixture.cleanUp()


def test_integers_and_fractions_in_a_url_query():
    got = _rabbit(None, {"rabbit_retry_interval": "2", "rabbit_interval_max": "0.5"})
    assert (got["rabbit_retry_interval"], got["rabbit_interval_max"]) == (2, 0.5)


def test_an_option_registered_as_an_integer_first_is_read():
    """oslo.messaging in the same process registered its IntOpt on the service's conf."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt("rpc_response_timeout", default=60))
    conf.register_opt(cfg.IntOpt("rabbit_retry_interval", default=1),
                      group="oslo_messaging_rabbit")
    conf([])
    conf.set_override("rpc_response_timeout", 12)
    conf.set_override("rabbit_retry_interval", 3, group="oslo_messaging_rabbit")
    with messaging.get_rpc_transport(conf, "fake://") as transport:
        assert transport.rpc_response_timeout == 12
    assert _rabbit(conf)["rabbit_retry_interval"] == 3
