"""The exception tree users catch.

It mirrors oslo.messaging's names so code written for it keeps working, but
every error this library raises derives from :class:`MessagingException`
(oslo leaves ``MessageUndeliverable`` and ``ExpectedException`` outside).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MessagingException",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "SerializationError",
    "MessageUndeliverable",
    "InvalidTarget",
    "InvalidTransportURL",
    "DriverLoadFailure",
    "ClientSendError",
    "RemoteError",
    "RPCVersionCapError",
    "MessagingServerError",
    "ExecutorLoadFailure",
    "ServerListenError",
    "TaskTimeout",
    "RPCDispatcherError",
    "NoSuchMethod",
    "UnsupportedVersion",
    "ExpectedException",
    "NotSupported",
    "TransportDriverError",
]


class MessagingException(Exception):
    """Base class of every error raised by this library."""

    def __init__(self, msg: str | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        #: Constructor arguments, so a client can rebuild the exception from the wire.
        self.kwargs: dict[str, Any] = {"msg": msg}

    def __str__(self) -> str:
        return str(self.msg) if self.msg is not None else self.__class__.__name__


class MessagingTimeout(MessagingException):
    """A call got no reply (or no call-monitor heartbeat) within its timeout."""


class MessageDeliveryFailure(MessagingException):
    """A message could not be handed to the bus within the retry budget."""


class SerializationError(MessagingException, TypeError, ValueError):
    """A message (arguments, context or payload) cannot be carried as JSON.

    Raised by the client before anything is sent, on every driver: it is the
    caller's bug, not a bus failure, so retrying cannot help. Convert such
    values in a :class:`~messaging.serializer.Serializer`. It is a
    ``TypeError`` (what :mod:`json` raises) and a ``ValueError`` (what
    oslo.messaging 18.x raises: "Cannot convert ... to primitive"), so code
    catching either keeps working.
    """


class MessageUndeliverable(MessagingException):
    """The bus refused a message because nothing could route it (e.g. a reply queue is gone)."""

    def __init__(self, exception: BaseException | None = None, exchange: str | None = None,
                 routing_key: str | None = None, message: Any = None) -> None:
        super().__init__(f"message to {exchange!r}/{routing_key!r} could not be routed")
        self.kwargs = {"exchange": exchange, "routing_key": routing_key}
        self.exception = exception
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message


class InvalidTarget(MessagingException, ValueError):
    """A Target lacks what the operation needs, or asks for something it cannot do."""

    def __init__(self, msg: str, target: Any = None) -> None:
        super().__init__(f"{msg}:{target}" if target is not None else msg)  # oslo's text
        self.target = target


class InvalidTransportURL(MessagingException, ValueError):
    """A transport URL could not be parsed; the message names the bad part.

    Also a ``ValueError``: oslo.messaging raises a bare ``ValueError`` for a
    port that is not a number or an unbalanced ``[``, so oslo-era
    ``except ValueError`` around a parse keeps working.
    """

    def __init__(self, url: str, msg: str | None = None) -> None:
        super().__init__(msg)
        self.kwargs = {"url": url, "msg": msg}
        self.url = url


class DriverLoadFailure(MessagingException):
    """No driver is installed for a URL scheme, or it failed to load."""

    def __init__(self, driver: str, ex: BaseException | str) -> None:
        super().__init__(f'Failed to load transport driver "{driver}": {ex}')
        self.kwargs = {"driver": driver, "ex": str(ex)}
        self.driver = driver
        self.ex = ex


class NotSupported(MessagingException):
    """The selected driver does not offer a requested capability."""


class TransportDriverError(MessagingException):
    """Base for errors a driver raises about the bus itself."""


class ClientSendError(MessagingException):
    """Raised when the driver fails to send a client's message."""

    def __init__(self, target: Any = None, ex: BaseException | None = None,
                 msg: str | None = None) -> None:
        super().__init__(msg or f'Failed to send to target "{target}": {ex}')
        self.kwargs = {"msg": self.msg}
        self.target = target
        self.ex = ex


class RemoteError(MessagingException):
    """A server-side exception that the client may not rebuild as its own type.

    It carries the remote class name, message and traceback text; nothing
    from the wire is ever imported or evaluated to produce it.
    """

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: str | None = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        super().__init__(f"Remote error: {exc_type} {value}\n{traceback}.")
        self.kwargs = {"exc_type": exc_type, "value": value, "traceback": traceback}


class RPCVersionCapError(MessagingException):
    """A client asked to send a version above its ``version_cap``."""

    def __init__(self, version: str, version_cap: str) -> None:
        # oslo's text, with its two spaces
        super().__init__(f"Requested message version, {version} is incompatible.  "
                         f"It needs to be equal in major version and less than or equal "
                         f"in minor version as the specified version cap {version_cap}.")
        self.kwargs = {"version": version, "version_cap": version_cap}
        self.version = version
        self.version_cap = version_cap


class MessagingServerError(MessagingException):
    """Base for server lifecycle errors."""


class ExecutorLoadFailure(MessagingServerError):
    """The named executor is not installed."""

    def __init__(self, executor: str, ex: BaseException | str) -> None:
        super().__init__(f'Failed to load executor "{executor}": {ex}')
        self.kwargs = {"executor": executor, "ex": str(ex)}
        self.executor = executor
        self.ex = ex


class ServerListenError(MessagingServerError):
    """A server could not start listening on its target."""

    def __init__(self, target: Any = None, ex: BaseException | None = None,
                 msg: str | None = None) -> None:
        super().__init__(msg or f'Failed to listen on target "{target}": {ex}')
        self.kwargs = {"msg": self.msg}
        self.target = target
        self.ex = ex


class TaskTimeout(MessagingServerError):
    """A server lifecycle step (start/stop/wait) did not finish in time."""


class RPCDispatcherError(MessagingServerError):
    """Base for errors while dispatching an RPC request."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """No endpoint exposes the requested method."""

    def __init__(self, method: str) -> None:
        super().__init__(f"Endpoint does not support RPC method {method}")
        self.kwargs = {"method": method}
        self.method = method


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint offers a compatible version (or namespace) for the request."""

    def __init__(self, version: str, method: str | None = None) -> None:
        super().__init__(f"Endpoint does not support RPC version {version}. "
                         f"Attempted method: {method}")
        self.kwargs = {"version": version, "method": method}
        self.version = version
        self.method = method


class ExpectedException(MessagingException):
    """Wraps an exception an endpoint declared with ``expected_exceptions``.

    The server logs it quietly; the client still receives the original type.
    """

    def __init__(self) -> None:
        import sys

        self.exc_info = sys.exc_info()
        super().__init__(str(self.exc_info[1]))
