"""Sequential call/s, cast/s and notify/s of ``pika://`` and ``rabbit://`` beside raw pika.

Every row runs its server in a process of its own, as a deployment does:

- ``raw pika request/reply``: a ``BlockingConnection`` client publishing
  with ``reply_to`` and waiting on its own reply queue; the server, in its
  own process, acks and answers each request (JSON bodies, no confirms);
- ``raw pika confirmed publish``: ``BlockingConnection`` with
  ``confirm_delivery()``, one synchronous confirm per message;
- ``pika``/``rabbit`` rows: :func:`messaging.bench.runner.run_scenario`
  (what ``messaging bench`` runs): ``RPCClient.call``, ``RPCClient.cast``
  (confirmed, timed until the server handled all) and ``Notifier.info``
  (confirmed, timed until the listener handled all).

Ratios: calls against raw pika request/reply, casts and notifications
against raw pika confirmed publishes, and each pika row against the kombu
driver's. Runs in a private vhost (see :mod:`bench_rabbit`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

from bench_rabbit import _rate, _vhost

BODY_ARGS = {"data": "x" * 100}

RAW_SERVER = textwrap.dedent('''
    import json, sys
    import pika

    params = pika.URLParameters(sys.argv[1])
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.queue_declare(sys.argv[2], auto_delete=True)

    def on_request(channel, method, properties, body):
        channel.basic_ack(method.delivery_tag)
        request = json.loads(body)
        channel.basic_publish("", properties.reply_to, json.dumps(
            {"result": request["args"], "ending": True}).encode(),
            pika.BasicProperties(correlation_id=properties.correlation_id,
                                 content_type="application/json"))

    ch.basic_consume(sys.argv[2], on_request)
    print("ready", flush=True)
    ch.start_consuming()
''')


def _raw_pika(amqp_url: str, n: int) -> dict[str, float]:
    import pika

    out: dict[str, float] = {}
    queue = f"raw_pika_rpc_{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen([sys.executable, "-c", RAW_SERVER, amqp_url, queue],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = conn.channel()
        reply_q = ch.queue_declare("", exclusive=True).method.queue
        got: list[bytes] = []
        ch.basic_consume(reply_q, lambda _c, _m, _p, body: got.append(body), auto_ack=True)
        body = json.dumps({"method": "echo", "args": BODY_ARGS}).encode()

        def call() -> None:
            got.clear()
            ch.basic_publish("", queue, body, pika.BasicProperties(
                reply_to=reply_q, correlation_id=uuid.uuid4().hex,
                content_type="application/json"))
            while not got:
                conn.process_data_events(time_limit=None)
            json.loads(got[0])

        out["call"] = _rate(call, n)
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    sink = ch.queue_declare(f"raw_pika_sink_{uuid.uuid4().hex[:8]}").method.queue
    ch.confirm_delivery()
    body = json.dumps({"method": "sink", "args": BODY_ARGS}).encode()
    out["publish"] = _rate(lambda: ch.basic_publish("", sink, body, pika.BasicProperties(
        content_type="application/json", delivery_mode=2)), n)
    ch.queue_delete(sink)
    conn.close()
    return out


def _scenarios(url: str, n: int) -> dict[str, float]:
    from messaging.bench.runner import run_scenario

    return {scenario: run_scenario(url, scenario, n=n, payload=100).rate
            for scenario in ("call", "cast", "notify")}


def run(n: int) -> list[tuple[str, float, float | None]]:
    """Rows of (label, ops/s, ratio to its raw pika baseline)."""
    import logging

    logging.getLogger("pika").setLevel(logging.CRITICAL)
    base = os.environ.get("MESSAGING_BENCH_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
    with _vhost() as vhost:
        url = base.rstrip("/") + "/" + vhost
        amqp_url = url.replace("rabbit://", "amqp://", 1)
        if not vhost:
            amqp_url = amqp_url.rstrip("/") + "/%2F"
        raw = _raw_pika(amqp_url, n)
        pika = _scenarios(url.replace("rabbit://", "pika://", 1), n)
        kombu = _scenarios(url, n)
    rows: list[tuple[str, float, float | None]] = [
        ("raw pika request/reply (own process)", raw["call"], None),
        ("raw pika confirmed publish", raw["publish"], None),
    ]
    for verb, baseline in (("call", raw["call"]), ("cast", raw["publish"]),
                           ("notify", raw["publish"])):
        api = "Notifier.info" if verb == "notify" else f"RPCClient.{verb}"
        rows.append((f"pika {api} ({pika[verb] / kombu[verb]:.2f}x rabbit)", pika[verb],
                     pika[verb] / baseline))
        rows.append((f"rabbit {api}", kombu[verb], kombu[verb] / baseline))
    return rows

