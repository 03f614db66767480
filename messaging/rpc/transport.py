"""oslo.messaging's ``rpc.transport`` module path for :func:`get_rpc_transport`."""

from ..transport import get_rpc_transport

__all__ = ["get_rpc_transport"]
