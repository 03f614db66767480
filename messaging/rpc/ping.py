"""The ping endpoint an operator's health check calls (oslo.messaging's ``rpc_ping_enabled``).

With ``[DEFAULT] rpc_ping_enabled = true`` every RPC server built by
:func:`messaging.get_rpc_server` also answers ``oslo_rpc_server_ping`` with
``'pong'``, in the default namespace, on its topic and its server name, as an
oslo.messaging server does, so either library's client can ping either
library's server (``messaging ping URL TOPIC [SERVER]``, or
``client.call({}, 'oslo_rpc_server_ping')``). The option is read from the
transport's configuration (oslo.messaging reads the global ``cfg.CONF``,
which is the transport's in a service).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..options import DEFAULT_OPTIONS, read_option

__all__ = ["PING_METHOD", "PingEndpoint", "with_ping"]

LOG = logging.getLogger(__name__)

#: The method name, oslo.messaging's.
PING_METHOD = "oslo_rpc_server_ping"
_OPTION = next(o for o in DEFAULT_OPTIONS if o.name == "rpc_ping_enabled")


class PingEndpoint:
    """Answers ``oslo_rpc_server_ping`` with ``'pong'`` (allowed by every access policy)."""

    def oslo_rpc_server_ping(self, ctxt: Any, **kwargs: Any) -> str:
        return "pong"

    oslo_rpc_server_ping.exposed = True  # type: ignore[attr-defined]  # ExplicitRPCAccessPolicy


def with_ping(conf: Any, endpoints: Sequence[Any]) -> list[Any]:
    """``endpoints`` plus a :class:`PingEndpoint` if ``conf`` enables it (a new list).

    An endpoint that has its own ``oslo_rpc_server_ping`` keeps it: the name
    is reserved, so that is logged, and no ping endpoint is added (oslo's rule).
    """
    out = list(endpoints)
    own = [e for e in out if getattr(e, PING_METHOD, None) is not None
           and not isinstance(e, PingEndpoint)]
    for endpoint in own:
        LOG.warning("'%s' is reserved for the ping endpoint (rpc_ping_enabled); avoid "
                    "oslo_* names (endpoint=%r)", PING_METHOD, endpoint)
    if read_option(conf, "DEFAULT", _OPTION):
        if own:
            LOG.warning("rpc_ping_enabled is set but an endpoint already declares %s; not "
                        "adding the ping endpoint", PING_METHOD)
        elif not any(isinstance(e, PingEndpoint) for e in out):
            out.append(PingEndpoint())
    return out
