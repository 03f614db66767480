"""RPC: clients (sync and async), servers, the dispatcher and access policies.

The names are oslo.messaging's ``oslo_messaging.rpc`` ones, so code that
imports them from here keeps working, plus the async client.
"""

from ..exceptions import (
                          ClientSendError,
                          ExpectedException,
                          NoSuchMethod,
                          RemoteError,
                          RPCDispatcherError,
                          RPCVersionCapError,
                          UnsupportedVersion,
)
from ..transport import get_rpc_transport
from .async_client import AsyncRPCClient, get_async_rpc_client
from .client import RPCClient, TransportOptions, get_rpc_client
from .dispatcher import RPCDispatcher, expected_exceptions
from .policy import (
                     DefaultRPCAccessPolicy,
                     ExplicitRPCAccessPolicy,
                     LegacyRPCAccessPolicy,
                     RPCAccessPolicyBase,
                     expose,
)
from .server import RPCServer, get_rpc_server

__all__ = ["ClientSendError", "ExpectedException", "NoSuchMethod", "RemoteError",
           "RPCDispatcherError", "RPCVersionCapError", "UnsupportedVersion",
           "get_rpc_transport", "RPCClient", "TransportOptions", "get_rpc_client",
           "RPCDispatcher", "expected_exceptions", "DefaultRPCAccessPolicy",
           "ExplicitRPCAccessPolicy", "LegacyRPCAccessPolicy", "RPCAccessPolicyBase", "expose",
           "RPCServer", "get_rpc_server", "AsyncRPCClient", "get_async_rpc_client"]
