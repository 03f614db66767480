"""The names ``import messaging`` offers: oslo.messaging's, so code ports by one import."""

from __future__ import annotations

import messaging

OSLO_NAMES = {
    "Transport", "TransportURL", "TransportHost", "get_transport", "set_transport_defaults",
    "DriverLoadFailure", "InvalidTransportURL", "get_rpc_transport",
    "get_notification_transport", "Target", "RPCClient", "get_rpc_client", "ClientSendError",
    "RPCVersionCapError", "RemoteError", "get_rpc_server", "expose", "expected_exceptions",
    "ExpectedException", "RPCDispatcher", "RPCDispatcherError", "NoSuchMethod",
    "UnsupportedVersion", "RPCAccessPolicyBase", "LegacyRPCAccessPolicy",
    "DefaultRPCAccessPolicy", "ExplicitRPCAccessPolicy", "MessageHandlingServer",
    "MessagingServerError", "ServerListenError", "ExecutorLoadFailure", "Notifier",
    "get_notification_listener", "get_batch_notification_listener", "NotificationResult",
    "NotificationFilter", "LoggingNotificationHandler", "PublishErrorsHandler",
    "LoggingErrorNotificationHandler", "Serializer", "NoOpSerializer", "JsonPayloadSerializer",
    "MessagingException", "MessagingTimeout", "MessageDeliveryFailure", "InvalidTarget",
    "MessageUndeliverable", "TransportOptions",
}


def test_every_oslo_name_is_exported():
    assert OSLO_NAMES - set(messaging.__all__) == set()


def test_all_names_exist():
    for name in messaging.__all__:
        assert hasattr(messaging, name), name


def test_all_errors_are_messaging_exceptions():
    for name in ("MessageUndeliverable", "ExpectedException", "NoSuchMethod",
                 "UnsupportedVersion", "InvalidTarget", "TaskTimeout"):
        assert issubclass(getattr(messaging, name), messaging.MessagingException), name
    assert issubclass(messaging.NoSuchMethod, AttributeError)
    assert issubclass(messaging.InvalidTarget, ValueError)
