"""oslo.messaging 18.x in a process of its own, for interop tests: a server or a client.

Usage: python oslo_peer.py server|client URL TOPIC OPTIONS_JSON [CALLS]

OPTIONS_JSON sets ``[oslo_messaging_rabbit]`` options. Run it with
``start_new_session=True``: oslo's queue manager reads
``/proc/<process group leader>/stat``, which must be this live process
(under CI the group leader may be gone: FileNotFoundError).

- ``server``: an RPC server on TOPIC (server ``oslo``) whose ``echo``
  returns its arguments with ``"by": "oslo"`` and whose ``note`` (fanout
  casts) prints ``{"note": value}``; prints ``{"ready": true, "fanout":
  <its fanout queue>}`` once consuming and runs until stdin closes.
- ``client``: CALLS calls of ``echo`` with ``n`` on TOPIC, then one fanout
  cast of ``note`` per value on stdin line; prints ``{"reply_q": ...,
  "results": [...]}`` after the calls and ``{"cast": value}`` per cast.
"""

from __future__ import annotations

import json
import sys
import threading
import warnings


def _transport(url: str, options: dict) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oslo_messaging
        from oslo_config import cfg
        from oslo_messaging._drivers import impl_rabbit
        from oslo_messaging._metrics.client import oslo_messaging_metrics
        from oslo_messaging._tracing.client import oslo_messaging_tracing
    conf = cfg.ConfigOpts()
    conf.register_opts(impl_rabbit.rabbit_opts, group="oslo_messaging_rabbit")
    conf.register_opts(oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf([])
    for name, value in options.items():
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return oslo_messaging, oslo_messaging.get_rpc_transport(conf, url=url)


class Endpoint:
    def echo(self, ctxt, **kwargs):
        return dict(kwargs, by="oslo")

    def note(self, ctxt, value):
        print(json.dumps({"note": value}), flush=True)


def server(url: str, topic: str, options: dict) -> None:
    om, transport = _transport(url, options)
    srv = om.get_rpc_server(transport, om.Target(topic=topic, server="oslo"), [Endpoint()],
                            executor="threading")
    srv.start()
    fanout = None
    for conn in _listener_connections(srv):
        for consumer in conn._consumers:
            if consumer.type == "fanout":
                fanout = consumer.queue_name
    print(json.dumps({"ready": True, "fanout": fanout}), flush=True)
    sys.stdin.read()
    srv.stop()
    srv.wait()
    transport.cleanup()


def _listener_connections(srv) -> list:
    """The kombu connections of the server's listener (to read its fanout queue's name)."""
    out = []
    listener = getattr(srv, "listener", None)
    inner = getattr(listener, "_poll_style_listener", listener)
    conn = getattr(inner, "conn", None)
    if conn is not None:
        out.append(getattr(conn, "connection", conn))
    return out


def client(url: str, topic: str, options: dict, calls: int) -> None:
    om, transport = _transport(url, options)
    rpc = om.get_rpc_client(transport, om.Target(topic=topic), timeout=30)
    results = [rpc.call({}, "echo", n=k) for k in range(calls)]
    reply_q = transport._driver._reply_q
    print(json.dumps({"reply_q": reply_q, "results": results}), flush=True)
    fan = rpc.prepare(fanout=True)
    for line in sys.stdin:
        value = line.strip()
        if value:
            fan.cast({}, "note", value=value)
            print(json.dumps({"cast": value}), flush=True)
    transport.cleanup()


def main() -> int:
    mode, url, topic, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    threading.current_thread().name = f"oslo-{mode}"
    if mode == "server":
        server(url, topic, options)
    else:
        client(url, topic, options, int(sys.argv[5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
