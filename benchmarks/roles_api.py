"""This library's rows and oslo.messaging's, through the one API they share.

``messaging`` is a drop-in for ``oslo_messaging``, so one client role and one
server role (:class:`messaging.bench.server.BenchServer`) serve both: the
rows differ only in the module that builds the transport, client and
server. The async shapes exist only for this library (oslo.messaging has no
asyncio API). On ``fake://`` (one bus per process) the server runs in the
client's process (``local=True``), for oslo.messaging's fake driver too.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Any

from shapes import DATA, THREADS, in_flight, sequential, threaded, until_counted

from messaging.bench.server import BenchServer


def _api(name: str) -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # oslo.messaging's deprecation chatter
        return importlib.import_module(name)


def _conf(api: str, overrides: dict[str, Any] | None) -> Any:
    """A configuration the API accepts: a dict for this library, a ConfigOpts for oslo."""
    if api == "messaging":
        return overrides or None
    from oslo_config import cfg
    from oslo_messaging._metrics.client import oslo_messaging_metrics
    from oslo_messaging._tracing.client import oslo_messaging_tracing

    conf = cfg.ConfigOpts()
    # oslo.messaging 18.3's client reads these groups but leaves registering them to the
    # service (its tracing and metrics setup); a bare ConfigOpts needs them here.
    conf.register_opts(oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf([])
    for group, values in (overrides or {}).items():
        for name, value in values.items():
            conf.set_override(name, value, group=group)
    return conf


class ApiServer:
    """A server process's role: :class:`BenchServer` built by ``api``."""

    def __init__(self, url: str, topic: str, kind: str, api: str = "messaging",
                 conf: dict[str, Any] | None = None) -> None:
        self._server = BenchServer(url, topic, kind, _conf(api, conf), _api(api))
        self.counter = self._server.counter
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


class ApiClient:
    """A client process's role: ``RPCClient``, ``Notifier`` and (this library only) their
    async siblings, built by ``api``."""

    def __init__(self, url: str, topic: str, api: str = "messaging",
                 conf: dict[str, Any] | None = None, local: bool = False,
                 servers: dict[str, Any] | None = None) -> None:
        module = _api(api)
        config = _conf(api, conf)
        self._local: dict[str, BenchServer] = {}
        if local:
            for kind in ("rpc", "notify"):
                self._local[kind] = BenchServer(url, topic, kind, config, module)
                self._local[kind].start()
        self._transport = module.get_rpc_transport(config, url=url)
        self._ntransport = module.get_notification_transport(config, url=url)
        target = module.Target(topic=topic)
        client = module.get_rpc_client(self._transport, target, timeout=60)
        notifier = module.Notifier(self._ntransport, publisher_id="bench",
                                   driver="messagingv2", topics=[topic])
        call = lambda: client.call({}, "echo", data=DATA)  # noqa: E731
        cast = lambda: client.cast({}, "sink", data=DATA)  # noqa: E731
        notify = lambda: notifier.info({}, "bench.event", {"data": DATA})  # noqa: E731
        self.shapes = {
            "call": self._served("rpc", lambda n: sequential(call, n)),
            "call-threads": self._served("rpc", lambda n: threaded([call] * THREADS, n)),
            "cast": self._served("rpc", lambda n: sequential(cast, n)),
            "cast-threads": self._served("rpc", lambda n: threaded([cast] * THREADS, n)),
            "notify": self._served("notify", lambda n: sequential(notify, n)),
            "notify-threads": self._served("notify", lambda n: threaded([notify] * THREADS, n)),
        }
        if api == "messaging":
            aclient = module.get_async_rpc_client(self._transport, target, timeout=60)
            anotifier = module.AsyncNotifier(self._ntransport, publisher_id="bench",
                                             driver="messagingv2", topics=[topic])
            self.shapes.update({
                "call-async": self._served("rpc", lambda n: in_flight(
                    lambda: aclient.call({}, "echo", data=DATA), n)),
                "cast-async": self._served("rpc", lambda n: in_flight(
                    lambda: aclient.cast({}, "sink", data=DATA), n)),
                "notify-async": self._served("notify", lambda n: in_flight(
                    lambda: anotifier.info({}, "bench.event", {"data": DATA}), n)),
            })

    def _served(self, kind: str, run: Any) -> Any:
        """``run``, and with a server in this process, until that server handled all."""
        server = self._local.get(kind)
        return run if server is None else until_counted(server.counter, run)

    def close(self) -> None:
        self._transport.cleanup()
        self._ntransport.cleanup()
        for server in self._local.values():
            server.stop()
