"""Short fixture names for the kit's own tests (loaded only when pytest collects the kit).

The plugin's fixtures are prefixed so that they never shadow a user's; these
aliases keep the kit's tests readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ..transport import Transport, get_rpc_transport
from .api import AsyncApi, SyncApi
from .helpers import no_driver_leaks
from .plugin import kit_servers, require_broker


@pytest.fixture(autouse=True)
def kit_servers_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--kit-servers=subprocess``, the test's listeners live in child processes.

    See :mod:`messaging.testing.child_servers`. A test marked
    ``kit_in_process(reason)`` keeps them here.
    """
    if (kit_servers(request.config) != "subprocess" or "messaging_url" not in request.fixturenames
            or request.node.get_closest_marker("kit_in_process") is not None):
        yield
        return
    from .child_servers import listeners_in_children

    with listeners_in_children(request.getfixturevalue("messaging_url")):
        yield


@pytest.fixture(autouse=True)
def no_client_library_exception_leaks() -> Iterator[None]:
    """Fail a kit test during which a driver let a non-``messaging`` exception out of a send."""
    with no_driver_leaks():
        yield


@pytest.fixture
def transport_url(messaging_url: str) -> str:
    """The transport URL under test."""
    return messaging_url


@pytest.fixture
def transport(messaging_transport: Transport) -> Transport:
    """An RPC transport on the URL under test."""
    return messaging_transport


@pytest.fixture
def notification_transport(messaging_notification_transport: Transport) -> Transport:
    """A notification transport on the URL under test."""
    return messaging_notification_transport


@pytest.fixture
def api(messaging_api: SyncApi | AsyncApi) -> SyncApi | AsyncApi:
    """The public API under test: sync, then async (``messaging_api``)."""
    return messaging_api


@pytest.fixture
def topic(messaging_topic: str) -> str:
    """A topic name no other test uses."""
    return messaging_topic


@pytest.fixture
def fresh_transport(messaging_url: str) -> Iterator[Callable[[], Transport]]:
    """Build extra RPC transports on the URL under test (for tests that clean them up early)."""
    require_broker(messaging_url)
    made: list[Transport] = []

    def make() -> Transport:
        t = get_rpc_transport(None, messaging_url)
        made.append(t)
        return t

    try:
        yield make
    finally:
        for t in made:
            t.cleanup()


@pytest.fixture
def unreachable(transport: Transport) -> Iterator[Transport]:
    """A transport on the driver's ``testing.unreachable_url()``: a bus nothing answers on.

    Skips for a brokerless driver, or one whose testing hooks offer no such URL.
    """
    if not transport.capabilities.brokered:
        pytest.skip("driver declares no broker that could be unreachable")
    hooks = transport.driver.testing
    url = hooks.unreachable_url() if hooks is not None else None
    if url is None:
        pytest.skip("driver offers no unreachable_url() testing hook")
    t = get_rpc_transport(None, url)
    try:
        yield t
    finally:
        t.cleanup()
