"""Raw pyzmq: the same jobs with no framework, and no broker.

The raw server (its own process) binds a REP socket that answers each JSON
request and a ROUTER socket that counts one-way messages. ``call`` is
REQ/REP; ``cast`` is DEALER -> ROUTER, timed until the server decoded the
last message (a DEALER send only queues the message in pyzmq's I/O thread).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from shapes import request_body, sequential

from messaging.bench.protocol import Counter


class RawZmqServer:
    def __init__(self, url: str, topic: str, kind: str) -> None:
        import zmq

        self.counter = Counter()
        self._ctx = zmq.Context()
        self._rep = self._ctx.socket(zmq.REP)
        self._sink = self._ctx.socket(zmq.ROUTER)
        self.info = {"rep": self._rep.bind_to_random_port("tcp://127.0.0.1"),
                     "sink": self._sink.bind_to_random_port("tcp://127.0.0.1")}
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        import zmq

        poller = zmq.Poller()
        poller.register(self._rep, zmq.POLLIN)
        poller.register(self._sink, zmq.POLLIN)
        while True:
            for sock, _ in poller.poll():
                if sock is self._rep:
                    request = json.loads(self._rep.recv())
                    self._rep.send(json.dumps({"result": request["args"],
                                               "ending": True}).encode())
                else:
                    json.loads(self._sink.recv_multipart()[1])
                self.counter.add()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        pass  # the process exits; the serving thread is a daemon


class RawZmqClient:
    def __init__(self, url: str, topic: str, servers: dict[str, Any]) -> None:
        import zmq

        self._ctx = zmq.Context()
        self._req = self._ctx.socket(zmq.REQ)
        self._req.connect(f"tcp://127.0.0.1:{servers['rpc']['rep']}")
        self._dealer = self._ctx.socket(zmq.DEALER)
        self._dealer.connect(f"tcp://127.0.0.1:{servers['rpc']['sink']}")
        call_body, sink_body = request_body("echo"), request_body("sink")

        def call() -> None:
            self._req.send(call_body)
            json.loads(self._req.recv())

        self.shapes = {"call": lambda n: sequential(call, n),
                       "cast": lambda n: sequential(lambda: self._dealer.send(sink_body), n)}

    def close(self) -> None:
        self._ctx.destroy(linger=0)
