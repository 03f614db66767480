"""The RPC client: ``call`` waits for a result, ``cast`` does not.

Both are at-most-once: a request may be lost (for example when no server
listens), never run twice. ``call`` returns or raises within its timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..driver import Reply
from ..exceptions import ClientSendError, InvalidTarget, RemoteError, RPCVersionCapError
from ..remote import deserialize_exception
from ..serializer import NoOpSerializer, Serializer
from ..target import Target
from ..transport import TransportOptions, warn_unless_rpc
from ..versions import parse_version, version_is_compatible

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["RPCClient", "get_rpc_client", "TransportOptions",
           "ClientSendError", "RemoteError", "RPCVersionCapError"]  # oslo's rpc.client names

LOG = logging.getLogger(__name__)
C = TypeVar("C", bound="_BaseCallContext[Any]")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class _BaseCallContext(Generic[C]):
    """What the sync and async clients share: options, ``prepare``, building
    requests and reading replies. Only sending differs between them.
    """

    #: Log oslo's warning when built on a notification transport (the public clients do;
    #: the contexts ``prepare`` derives do not repeat it).
    _warn_transport_kind: ClassVar[bool] = False

    def __init__(self, transport: Transport, target: Target, timeout: float | None = None,
                 version_cap: str | None = None, serializer: Serializer | None = None,
                 retry: int | None = None, call_monitor_timeout: float | None = None,
                 transport_options: TransportOptions | None = None) -> None:
        if not isinstance(target, Target):
            raise TypeError(f"target must be a Target, not {type(target).__name__}")
        if target.version is not None:
            parse_version(target.version)
        self.transport = transport
        self.target = target
        self.serializer = serializer or NoOpSerializer()
        self.timeout = timeout
        self.version_cap = version_cap
        self.retry = retry
        self.call_monitor_timeout = call_monitor_timeout
        self.transport_options = transport_options
        if self._warn_transport_kind:
            warn_unless_rpc(transport)  # oslo's warning for a notification transport

    def _derive(self, target: Target, options: dict[str, Any]) -> C:
        """A context of this front end's kind for ``target`` with ``options``."""
        raise NotImplementedError

    def prepare(self, exchange: Any = _UNSET, topic: Any = _UNSET, namespace: Any = _UNSET,
                version: Any = _UNSET, server: Any = _UNSET, fanout: Any = _UNSET,
                timeout: Any = _UNSET, version_cap: Any = _UNSET, retry: Any = _UNSET,
                call_monitor_timeout: Any = _UNSET, transport_options: Any = _UNSET,
                ) -> C:
        """Return a client with some target fields or options changed."""
        fields = {k: v for k, v in (("exchange", exchange), ("topic", topic),
                                    ("namespace", namespace), ("version", version),
                                    ("server", server), ("fanout", fanout)) if v is not _UNSET}
        opts: dict[str, Any] = {
            "timeout": self.timeout, "version_cap": self.version_cap, "retry": self.retry,
            "call_monitor_timeout": self.call_monitor_timeout,
            "transport_options": self.transport_options}
        for key, value in (("timeout", timeout), ("version_cap", version_cap),
                           ("retry", retry), ("call_monitor_timeout", call_monitor_timeout),
                           ("transport_options", transport_options)):
            if value is not _UNSET:
                opts[key] = value
        return self._derive(self.target.replace(**fields), opts)

    @property
    def _at_least_once(self) -> bool:
        """TransportOptions(at_least_once=True): an unroutable request fails at once."""
        return bool(self.transport_options is not None and self.transport_options.at_least_once)

    def can_send_version(self, version: Any = _UNSET) -> bool:
        """True if ``version`` (default: the target's) is within ``version_cap``."""
        v = self.target.version if version is _UNSET else version
        return self.version_cap is None or version_is_compatible(self.version_cap, v)

    def _message(self, ctxt: Any, method: str, kwargs: Mapping[str, Any],
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The wire context and message of a request (version cap checked, values serialized)."""
        if self.version_cap is not None and not version_is_compatible(
                self.version_cap, self.target.version):
            raise RPCVersionCapError(str(self.target.version), self.version_cap)
        msg: dict[str, Any] = {"method": method, "args": {
            k: self.serializer.serialize_entity(ctxt, v) for k, v in kwargs.items()}}
        if self.target.namespace is not None:
            msg["namespace"] = self.target.namespace
        if self.target.version is not None:
            msg["version"] = self.target.version
        return self.serializer.serialize_context(ctxt), msg

    def _call_message(self, ctxt: Any, method: str, kwargs: Mapping[str, Any],
                      ) -> tuple[dict[str, Any], dict[str, Any], float]:
        """Like :meth:`_message` for a call, with the timeout it waits (a fanout is refused)."""
        if self.target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", self.target)
        wire_ctxt, msg = self._message(ctxt, method, kwargs)
        timeout = self.timeout if self.timeout is not None \
            else self.transport.rpc_response_timeout
        return wire_ctxt, msg, timeout

    def _result(self, ctxt: Any, reply: Reply) -> Any:
        """The call's result, or the server's exception raised (rebuilt when allowed)."""
        if reply.failure is not None:
            raise deserialize_exception(reply.failure, self.transport.allowed_remote_exmods)
        return self.serializer.deserialize_entity(ctxt, reply.result)


class _CallContext(_BaseCallContext["_CallContext"]):
    """A client bound to one target and set of options; ``prepare`` derives another."""

    def _derive(self, target: Target, options: dict[str, Any]) -> _CallContext:
        return _CallContext(self.transport, target, serializer=self.serializer, **options)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Send ``method(**kwargs)`` and return as soon as it is handed to the bus.

        With ``fanout`` every server of the topic gets it. Nothing is
        returned and server-side errors are not reported back.
        """
        wire_ctxt, msg = self._message(ctxt, method, kwargs)
        self.transport.cast(self.target, wire_ctxt, msg, retry=self.retry,
                            mandatory=self._at_least_once)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Run ``method(**kwargs)`` on one server and return its result.

        Raises :class:`MessagingTimeout` if no reply comes within the timeout,
        the server's exception (rebuilt when allowed, else :class:`RemoteError`),
        or :class:`MessageDeliveryFailure` if the request could not be sent.
        """
        wire_ctxt, msg, timeout = self._call_message(ctxt, method, kwargs)
        reply = self.transport.call(self.target, wire_ctxt, msg, timeout=timeout,
                                    call_monitor_timeout=self.call_monitor_timeout,
                                    retry=self.retry, mandatory=self._at_least_once)
        return self._result(ctxt, reply)


class RPCClient(_CallContext):
    """Sends requests to servers of ``target`` (which needs at least a topic).

    :param timeout: seconds a ``call`` waits (default ``rpc_response_timeout``, 60).
    :param version_cap: highest version this client may send.
    :param retry: connection retries (None: forever, 0: none, N: N times).
    :param call_monitor_timeout: ask servers for heartbeats at this interval,
        so a long call on a live server is told apart from a dead one.
    """

    _warn_transport_kind = True

    def __init__(self, transport: Transport, target: Target, timeout: float | None = None,
                 version_cap: str | None = None, serializer: Serializer | None = None,
                 retry: int | None = None, call_monitor_timeout: float | None = None,
                 transport_options: TransportOptions | None = None,
                 _manual_load: bool = True) -> None:
        if _manual_load:  # built directly, not by get_rpc_client: oslo's warning
            LOG.warning("Using RPCClient manually to instantiate client. Please use "
                        "get_rpc_client to obtain an RPC client instance.")
        super().__init__(transport, target, timeout, version_cap, serializer, retry,
                         call_monitor_timeout, transport_options)


def get_rpc_client(transport: Transport, target: Target, client_cls: type[RPCClient] = RPCClient,
                   **kwargs: Any) -> RPCClient:
    """Build an :class:`RPCClient` (the preferred spelling in oslo.messaging 14+)."""
    return client_cls(transport, target, _manual_load=False, **kwargs)
