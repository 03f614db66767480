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


# oslo.messaging 18.x's __all__ of notify and rpc (the interop env walks the installed one).
OSLO_NOTIFY_ALL = ["Notifier", "LoggingNotificationHandler", "get_notification_transport",
                   "get_notification_listener", "get_batch_notification_listener",
                   "NotificationResult", "NotificationFilter", "PublishErrorsHandler",
                   "LoggingErrorNotificationHandler"]
OSLO_RPC_ALL = ["ClientSendError", "ExpectedException", "NoSuchMethod", "RPCClient",
                "RPCAccessPolicyBase", "LegacyRPCAccessPolicy", "DefaultRPCAccessPolicy",
                "ExplicitRPCAccessPolicy", "RPCDispatcher", "RPCDispatcherError",
                "RPCVersionCapError", "RemoteError", "UnsupportedVersion", "expected_exceptions",
                "get_rpc_transport", "get_rpc_server", "get_rpc_client", "expose"]


def test_oslos_notify_and_rpc_names():
    import messaging.notify
    import messaging.rpc

    assert [n for n in OSLO_NOTIFY_ALL if n not in messaging.notify.__all__] == []
    assert [n for n in OSLO_RPC_ALL if n not in messaging.rpc.__all__] == []
    for module, names in ((messaging.notify, OSLO_NOTIFY_ALL), (messaging.rpc, OSLO_RPC_ALL)):
        for name in names:
            assert getattr(module, name) is getattr(messaging, name), name


def test_names_at_oslos_module_paths(transport):
    import messaging.notify.notifier
    import messaging.rpc.client
    import messaging.rpc.server
    import messaging.rpc.transport
    import messaging.server
    import messaging.transport

    assert messaging.transport.TransportHost is messaging.TransportHost
    assert messaging.transport.TransportURL is messaging.TransportURL
    assert messaging.transport.TransportOptions is messaging.TransportOptions
    assert messaging.server.ExecutorLoadFailure is messaging.ExecutorLoadFailure
    assert messaging.server.MessagingServerError is messaging.MessagingServerError
    assert messaging.notify.get_notification_transport is messaging.get_notification_transport
    assert messaging.notify.notifier.get_notification_transport is \
        messaging.get_notification_transport
    assert messaging.rpc.client.RemoteError is messaging.RemoteError
    assert messaging.rpc.server.expose is messaging.expose
    assert messaging.rpc.transport.get_rpc_transport is messaging.get_rpc_transport
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"), [])
    assert server.conf is transport.conf
