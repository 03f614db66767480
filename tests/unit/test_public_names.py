"""The public names are pinned: adding or removing one is a deliberate, recorded change.

Each module users import from has its ``__all__`` compared with the
snapshot below, exactly. When a test here fails on purpose (a name added,
renamed or removed), update the snapshot and say so in CHANGELOG.md; when
it fails by accident, the change broke users' imports.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

SNAPSHOT: dict[str, list[str]] = {
    "messaging": [
        "AsyncNotifier", "AsyncRPCClient", "ClientSendError", "DefaultRPCAccessPolicy",
        "DriverLoadFailure", "ExecutorLoadFailure", "ExpectedException",
        "ExplicitRPCAccessPolicy", "InvalidTarget", "InvalidTransportURL",
        "JsonPayloadSerializer", "LegacyRPCAccessPolicy",
        "LoggingErrorNotificationHandler", "LoggingNotificationHandler",
        "MessageDeliveryFailure", "MessageHandlingServer", "MessageUndeliverable",
        "MessagingException", "MessagingServerError", "MessagingTimeout",
        "NoOpSerializer", "NoSuchMethod", "NotSupported", "NotificationFilter",
        "NotificationResult", "NotificationTransport", "Notifier",
        "PublishErrorsHandler", "RPCAccessPolicyBase", "RPCClient", "RPCDispatcher",
        "RPCDispatcherError", "RPCServer", "RPCTransport", "RPCVersionCapError",
        "RemoteError", "RequestContextSerializer", "SerializationError", "Serializer",
        "ServerListenError", "Target", "TaskTimeout", "Transport", "TransportHost",
        "TransportOptions", "TransportURL", "UnsupportedVersion", "expected_exceptions",
        "expose", "get_async_rpc_client", "get_batch_notification_listener",
        "get_notification_listener", "get_notification_transport", "get_rpc_client",
        "get_rpc_server", "get_rpc_transport", "get_transport", "register_opts",
        "set_transport_defaults",
    ],
    "messaging.driver": [
        "Capabilities", "Delivery", "Driver", "IncomingMessage", "Listener", "Reply",
        "RpcIncomingMessage", "TestingHooks", "unserializable", "wait_future",
    ],
    "messaging.rpc": [
        "AsyncRPCClient", "ClientSendError", "DefaultRPCAccessPolicy",
        "ExpectedException", "ExplicitRPCAccessPolicy", "LegacyRPCAccessPolicy",
        "NoSuchMethod", "RPCAccessPolicyBase", "RPCClient", "RPCDispatcher",
        "RPCDispatcherError", "RPCServer", "RPCVersionCapError", "RemoteError",
        "TransportOptions", "UnsupportedVersion", "expected_exceptions", "expose",
        "get_async_rpc_client", "get_rpc_client", "get_rpc_server", "get_rpc_transport",
    ],
    "messaging.notify": [
        "AsyncNotifier", "LoggingErrorNotificationHandler",
        "LoggingNotificationHandler", "NotificationFilter", "NotificationResult",
        "Notifier", "PublishErrorsHandler", "get_batch_notification_listener",
        "get_notification_listener", "get_notification_transport",
    ],
    "messaging.testing": [
        "Recorder", "running_server", "wait_for",
    ],
}

HOW_TO_FIX = ("If this is on purpose, update SNAPSHOT in tests/unit/test_public_names.py "
              "and add the change to CHANGELOG.md; if not, the change breaks users' imports.")


@pytest.mark.parametrize("module_name", sorted(SNAPSHOT))
def test_exported_names_match_the_snapshot(module_name):
    exported = importlib.import_module(module_name).__all__
    added = sorted(set(exported) - set(SNAPSHOT[module_name]))
    removed = sorted(set(SNAPSHOT[module_name]) - set(exported))
    assert not added and not removed, (
        f"{module_name}.__all__ changed: added {added or 'nothing'}, removed "
        f"{removed or 'nothing'}. {HOW_TO_FIX}")
    repeated = sorted({n for n in exported if exported.count(n) > 1})
    assert not repeated, f"{module_name}.__all__ lists {repeated} more than once"


@pytest.mark.parametrize("module_name", sorted(SNAPSHOT))
def test_every_exported_name_exists(module_name):
    module = importlib.import_module(module_name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{module_name}.__all__ names what it does not have: {missing}"


@pytest.mark.parametrize("module_name", sorted(SNAPSHOT))
def test_public_classes_and_functions_defined_here_are_exported(module_name):
    module = importlib.import_module(module_name)
    defined_here = sorted(
        name for name, value in vars(module).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module_name)
    unexported = [n for n in defined_here if n not in module.__all__]
    assert not unexported, (
        f"{module_name} defines {unexported} without exporting it: add it to __all__ (and "
        f"to SNAPSHOT) or name it with a leading underscore. {HOW_TO_FIX}")
