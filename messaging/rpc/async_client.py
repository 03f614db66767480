"""The asyncio RPC client: ``await client.call(...)``, ``await client.cast(...)``.

It builds requests and reads replies with the same code as
:class:`~messaging.RPCClient` (:class:`~messaging.rpc.client._BaseCallContext`);
only sending differs: it hands the request to the transport's future verbs
(``submit_call``, ``submit_cast``) and awaits the driver's future on the
running loop (:func:`messaging.aio.await_future`), so calls in flight cost no
thread each, whatever the driver. Cancelling the awaiting task cancels the
call: the driver forgets it and a late reply is ignored.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..aio import await_future
from ..target import Target
from .client import _BaseCallContext

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["AsyncRPCClient", "get_async_rpc_client"]

LOG = logging.getLogger(__name__)


def _log_failed_cast(what: str, future: Future[None]) -> None:
    """Log a cast whose caller stopped waiting for it and that then failed to be sent."""
    error = None if future.cancelled() else future.exception()
    if error is not None:
        LOG.error("The %s, no longer awaited, was not sent: %s", what, error)


class _AsyncCallContext(_BaseCallContext["_AsyncCallContext"]):
    """An async client bound to one target and set of options; ``prepare`` derives another."""

    def _derive(self, target: Target, options: dict[str, Any]) -> _AsyncCallContext:
        return _AsyncCallContext(self.transport, target, serializer=self.serializer, **options)

    async def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Send ``method(**kwargs)``; returns once the bus took it (confirmed, if it confirms).

        With ``fanout`` every server of the topic gets it. Many casts may be
        in flight at once (``asyncio.gather``): their confirmations are
        awaited together. Cancelling the awaiting task stops the waiting,
        not the cast: once handed to the transport it is sent, on every
        driver, and a failure to send it is logged.
        """
        wire_ctxt, msg = self._message(ctxt, method, kwargs)
        future = self.transport.submit_cast(self.target, wire_ctxt, msg, retry=self.retry,
                                            mandatory=self._at_least_once)
        what = f"cast of {method!r} to {self.target}"
        try:
            await await_future(future, None, what, cancel=False)
        except asyncio.CancelledError:
            future.add_done_callback(functools.partial(_log_failed_cast, what))
            raise

    async def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Run ``method(**kwargs)`` on one server and return its result.

        Raises as :meth:`messaging.RPCClient.call` does (``MessagingTimeout``
        past the timeout, the server's exception, ``MessageDeliveryFailure``).
        Cancelling the awaiting task abandons the call.
        """
        wire_ctxt, msg, timeout = self._call_message(ctxt, method, kwargs)
        future = self.transport.submit_call(self.target, wire_ctxt, msg, timeout=timeout,
                                            call_monitor_timeout=self.call_monitor_timeout,
                                            retry=self.retry, mandatory=self._at_least_once)
        reply = await await_future(future, timeout + self.transport.driver.call_grace,
                                   f"reply to {method!r} on {self.target} not delivered in time")
        return self._result(ctxt, reply)


class AsyncRPCClient(_AsyncCallContext):
    """Sends requests to servers of ``target`` from async code; the parameters are
    :class:`~messaging.RPCClient` 's.

    ::

        client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"))
        result = await client.call(ctxt, "method", arg=1)
        await client.prepare(fanout=True).cast(ctxt, "refresh")
    """

    _warn_transport_kind = True

def get_async_rpc_client(transport: Transport, target: Target,
                         client_cls: type[AsyncRPCClient] = AsyncRPCClient,
                         **kwargs: Any) -> AsyncRPCClient:
    """Build an :class:`AsyncRPCClient` (the async sibling of :func:`messaging.get_rpc_client`)."""
    return client_cls(transport, target, **kwargs)
