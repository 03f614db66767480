"""messaging: RPC and notifications over any message bus.

The transport URL picks the bus (``rabbit://`` or ``pika://`` for RabbitMQ,
``amqp://`` for AMQP 1.0, ``zmq://`` for ZeroMQ, ``fake://`` in memory, or
any installed third-party driver); application code stays the same. Async
code uses :class:`AsyncRPCClient`, :class:`AsyncNotifier` and
``executor='asyncio'``. The API follows oslo.messaging's, so
``import messaging`` can replace ``import oslo_messaging as messaging``.
"""

from __future__ import annotations

from .exceptions import (
                         ClientSendError,
                         DriverLoadFailure,
                         ExecutorLoadFailure,
                         ExpectedException,
                         InvalidTarget,
                         InvalidTransportURL,
                         MessageDeliveryFailure,
                         MessageUndeliverable,
                         MessagingException,
                         MessagingServerError,
                         MessagingTimeout,
                         NoSuchMethod,
                         NotSupported,
                         RemoteError,
                         RPCDispatcherError,
                         RPCVersionCapError,
                         SerializationError,
                         ServerListenError,
                         TaskTimeout,
                         UnsupportedVersion,
)
from .notify import (
                         AsyncNotifier,
                         LoggingErrorNotificationHandler,
                         LoggingNotificationHandler,
                         NotificationFilter,
                         NotificationResult,
                         Notifier,
                         PublishErrorsHandler,
                         get_batch_notification_listener,
                         get_notification_listener,
)
from .options import register_opts
from .rpc import (
                         AsyncRPCClient,
                         DefaultRPCAccessPolicy,
                         ExplicitRPCAccessPolicy,
                         LegacyRPCAccessPolicy,
                         RPCAccessPolicyBase,
                         RPCClient,
                         RPCDispatcher,
                         RPCServer,
                         TransportOptions,
                         expected_exceptions,
                         expose,
                         get_async_rpc_client,
                         get_rpc_client,
                         get_rpc_server,
)
from .serializer import JsonPayloadSerializer, NoOpSerializer, RequestContextSerializer, Serializer
from .server import MessageHandlingServer
from .target import Target
from .transport import (
                         NotificationTransport,
                         RPCTransport,
                         Transport,
                         get_notification_transport,
                         get_rpc_transport,
                         get_transport,
                         set_transport_defaults,
)
from .url import TransportHost, TransportURL

__version__ = "0.1.0"

__all__ = [
    "ClientSendError", "DriverLoadFailure", "ExecutorLoadFailure", "ExpectedException",
    "InvalidTarget", "InvalidTransportURL", "MessageDeliveryFailure", "MessageUndeliverable",
    "MessagingException", "MessagingServerError", "MessagingTimeout", "NoSuchMethod",
    "NotSupported", "RemoteError", "RPCDispatcherError", "RPCVersionCapError",
    "SerializationError", "ServerListenError", "TaskTimeout", "UnsupportedVersion",
    "AsyncNotifier", "LoggingErrorNotificationHandler", "LoggingNotificationHandler",
    "NotificationFilter",
    "NotificationResult", "Notifier", "PublishErrorsHandler", "get_batch_notification_listener",
    "get_notification_listener",
    "register_opts",
    "AsyncRPCClient", "get_async_rpc_client",
    "DefaultRPCAccessPolicy", "ExplicitRPCAccessPolicy", "LegacyRPCAccessPolicy",
    "RPCAccessPolicyBase", "RPCClient", "RPCDispatcher", "RPCServer", "TransportOptions",
    "expected_exceptions", "expose", "get_rpc_client", "get_rpc_server",
    "JsonPayloadSerializer", "NoOpSerializer", "RequestContextSerializer", "Serializer",
    "MessageHandlingServer", "Target",
    "NotificationTransport", "RPCTransport", "Transport", "get_notification_transport",
    "get_rpc_transport", "get_transport", "set_transport_defaults",
    "TransportHost", "TransportURL",
]
