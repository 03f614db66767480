"""RPC servers: a :class:`MessageHandlingServer` running an :class:`RPCDispatcher`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..driver import Listener
from ..serializer import Serializer
from ..server import MessageHandlingServer
from ..target import Target
from ..transport import warn_unless_rpc
from .dispatcher import RPCDispatcher, expected_exceptions
from .ping import with_ping
from .policy import RPCAccessPolicyBase, expose

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["RPCServer", "get_rpc_server", "expected_exceptions", "expose"]  # oslo's names


class RPCServer(MessageHandlingServer):
    """Serves RPC requests on ``topic`` and ``topic.server`` and the topic's fanout."""

    def __init__(self, transport: Transport, target: Target, dispatcher: RPCDispatcher,
                 executor: str | None = None) -> None:
        super().__init__(transport, dispatcher, executor)
        warn_unless_rpc(transport)
        self.target = target

    def _create_listener(self) -> Listener:
        """Listen on this server's target (a dispatcher built alone does not know it)."""
        return self.transport.listen(self.target)


def get_rpc_server(transport: Transport, target: Target, endpoints: Sequence[Any],
                   executor: str | None = None, serializer: Serializer | None = None,
                   access_policy: type[RPCAccessPolicyBase] | None = None,
                   server_cls: type[RPCServer] = RPCServer) -> RPCServer:
    """Build an RPC server; ``target`` needs ``topic`` and ``server``.

    ``executor`` is ``'threading'`` (default), ``'blocking'`` (handle one
    request at a time in the polling thread) or ``'asyncio'`` (``async def``
    endpoint methods on an event loop, the others on a thread pool; see
    :class:`messaging.executors.AsyncioExecutor`). ``access_policy`` is a
    class; the default refuses methods whose names start with ``_``.
    """
    dispatcher = RPCDispatcher(with_ping(transport.conf, endpoints), serializer, access_policy,
                               target=target)
    return server_cls(transport, target, dispatcher, executor)
