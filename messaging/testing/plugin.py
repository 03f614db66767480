"""pytest plugin behind the conformance kit: the ``--transport-url`` option and fixtures.

It is registered for every pytest run through the ``pytest11`` entry point,
so its fixtures carry a ``messaging_`` prefix and never shadow a user's own
``transport`` or ``topic`` fixtures: ``messaging_url`` (one run per
``--transport-url``), ``messaging_transport``,
``messaging_notification_transport``, ``messaging_topic`` and
``messaging_api`` (the public API a test drives: once sync, once async; see
:mod:`messaging.testing.api`). The kit's own tests use short aliases
defined in ``messaging/testing/conftest.py``, which pytest loads only when
it collects the kit.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

from ..transport import Transport, get_notification_transport, get_rpc_transport
from ..url import TransportURL
from .api import API_NAMES, AsyncApi, SyncApi, make_api

_DEFAULT_PORTS = {"rabbit": 5672, "kombu": 5672, "pika": 5672, "amqp": 5672}


#: Where the kit's servers listen: in the test process, or in child processes.
KIT_SERVERS = ("in-process", "subprocess")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("messaging", "messaging conformance kit")
    group.addoption("--transport-url", action="append", default=[],
                    help="transport URL to run the conformance kit against (repeatable); "
                         "default: $MESSAGING_TRANSPORT_URL or fake://")
    group.addoption("--kit-servers", choices=KIT_SERVERS, default=None,
                    help="where the kit's RPC servers and notification listeners listen: "
                         "in the test process, or each transport's in a child process "
                         "(messaging.testing.child_servers); default: "
                         "$MESSAGING_KIT_SERVERS or in-process")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kit_in_process(reason): this kit test listens in the test process even "
                   "with --kit-servers=subprocess, for the reason given")


def kit_servers(config: pytest.Config) -> str:
    """``in-process`` or ``subprocess``: the option, else $MESSAGING_KIT_SERVERS."""
    mode = config.getoption("--kit-servers") or os.environ.get("MESSAGING_KIT_SERVERS") \
        or "in-process"
    if mode not in KIT_SERVERS:
        raise pytest.UsageError(f"MESSAGING_KIT_SERVERS={mode!r}: expected one of "
                                f"{', '.join(KIT_SERVERS)}")
    return str(mode)


def _urls(config: pytest.Config) -> list[str]:
    urls: list[str] = config.getoption("--transport-url") or []
    if not urls and os.environ.get("MESSAGING_TRANSPORT_URL"):
        urls = [u for u in os.environ["MESSAGING_TRANSPORT_URL"].split() if u]
    return urls or ["fake://"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "messaging_url" in metafunc.fixturenames:
        urls = _urls(metafunc.config)
        ids = [repr(TransportURL.parse(u)).split(" ", 1)[1].rstrip(">") for u in urls]
        metafunc.parametrize("messaging_url", urls, ids=ids, scope="session")


def _reachable(url: TransportURL) -> str | None:
    """None if some host of the URL accepts TCP, else why not (brokerless schemes pass)."""
    if url.scheme not in _DEFAULT_PORTS:
        return None
    hosts = url.hosts or ()
    errors = []
    for host in hosts or [None]:
        name = (host.hostname if host else None) or "127.0.0.1"
        port = (host.port if host else None) or _DEFAULT_PORTS[url.scheme]
        try:
            with socket.create_connection((name, port), timeout=2):
                return None
        except OSError as exc:
            errors.append(f"{name}:{port}: {exc}")
    return "; ".join(errors)


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test that cannot run here; in CI (MESSAGING_REQUIRE_BROKERS=1) fail it instead."""
    if os.environ.get("MESSAGING_REQUIRE_BROKERS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_broker(url: str) -> None:
    """Skip (or, with MESSAGING_REQUIRE_BROKERS=1, fail) when the broker is unreachable."""
    problem = _reachable(TransportURL.parse(url))
    if problem is not None:
        skip_or_fail(f"broker for {TransportURL.parse(url)!r} unreachable: {problem}")


@pytest.fixture
def messaging_transport(messaging_url: str) -> Iterator[Transport]:
    """An RPC transport on the URL under test, cleaned up after the test."""
    require_broker(messaging_url)
    t = get_rpc_transport(None, messaging_url)
    try:
        yield t
    finally:
        t.cleanup()


@pytest.fixture
def messaging_notification_transport(messaging_url: str) -> Iterator[Transport]:
    """A notification transport on the URL under test."""
    require_broker(messaging_url)
    t = get_notification_transport(None, messaging_url)
    try:
        yield t
    finally:
        t.cleanup()


@pytest.fixture
def messaging_topic() -> str:
    """A topic name no other test uses."""
    return f"kit_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=API_NAMES)
def messaging_api(request: pytest.FixtureRequest) -> Iterator[SyncApi | AsyncApi]:
    """The public API a test builds clients, servers, notifiers and listeners with.

    Parametrized: a test taking it runs once through the sync API and once
    through the asyncio API (:mod:`messaging.testing.api`).
    """
    api = make_api(request.param)
    try:
        yield api
    finally:
        api.close()
