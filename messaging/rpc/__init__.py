"""RPC: clients (sync and async), servers, the dispatcher and access policies."""

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

__all__ = ["AsyncRPCClient", "get_async_rpc_client", "RPCClient", "TransportOptions",
           "get_rpc_client", "RPCDispatcher",
           "expected_exceptions", "DefaultRPCAccessPolicy", "ExplicitRPCAccessPolicy",
           "LegacyRPCAccessPolicy", "RPCAccessPolicyBase", "expose", "RPCServer",
           "get_rpc_server"]
