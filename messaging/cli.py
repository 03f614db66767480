"""The ``messaging`` command: a demo, the installed drivers, and an operator's tools.

Every tool takes a transport URL. Keep passwords off the command line: give
``-`` as the URL to read it from ``$MESSAGING_TRANSPORT_URL``, and/or leave
the password out of the URL and set ``$MESSAGING_PASSWORD``. URLs are
only ever shown with their password masked.

Exit status: 0 success, 1 the server raised (the remote error is printed),
2 bad usage or URL, 3 the bus failed (timeout, delivery failure).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import (
    DriverLoadFailure,
    InvalidTarget,
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessagingException,
    NoSuchMethod,
)
from .transport import installed_drivers
from .url import TransportHost, TransportURL

__all__ = ["main"]

URL_ENV = "MESSAGING_TRANSPORT_URL"
PASSWORD_ENV = "MESSAGING_PASSWORD"
#: The method oslo.messaging servers answer when ``rpc_ping_enabled`` is set.
PING_METHOD = "oslo_rpc_server_ping"

EXIT_OK, EXIT_REMOTE, EXIT_USAGE, EXIT_BUS = 0, 1, 2, 3


class _UsageError(Exception):
    """Bad arguments: reported on stderr with exit status 2."""


def _drivers() -> int:
    from importlib import metadata

    rows = [("scheme", "provided by", "client library", "capabilities")]
    for d in installed_drivers():
        try:
            cls = d.load()
        except Exception as exc:  # its client library is missing: say so instead
            rows.append((d.scheme, f"{d.distribution} {d.version}", "?",
                         f"(cannot load: {type(exc).__name__}: {exc})"))
            continue
        client = "none"
        if cls.client_library:
            try:
                client = f"{cls.client_library} {metadata.version(cls.client_library)}"
            except metadata.PackageNotFoundError:
                client = f"{cls.client_library} (not installed)"
        caps = cls.capabilities
        flags = [f.name for f in dataclasses.fields(caps) if getattr(caps, f.name) is True]
        rows.append((d.scheme, f"{d.distribution} {d.version}", client,
                     f"rpc {caps.rpc_delivery}, notifications {caps.notification_delivery}; "
                     + ", ".join(flags)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                         .rstrip() + "\n")
    return EXIT_OK


# -- URLs and arguments -----------------------------------------------------------------


def _url(text: str) -> str:
    """The URL to use: ``-`` reads ``$MESSAGING_TRANSPORT_URL``; a password may come from
    ``$MESSAGING_PASSWORD``."""
    if text == "-":
        text = os.environ.get(URL_ENV, "")
        if not text:
            raise _UsageError(f"URL '-' given but ${URL_ENV} is not set")
    password = os.environ.get(PASSWORD_ENV)
    url = TransportURL.parse(text)
    if password and any(h.password is None for h in url.hosts):
        hosts = tuple(h if h.password is not None else
                      TransportHost(h.hostname, h.port, h.username or "guest", password)
                      for h in url.hosts)
        url = url.with_hosts(hosts)
    return str(url)


def _kv(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` arguments; a value that parses as JSON is taken as JSON, else as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise _UsageError(f"--arg expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# -- RPC tools ---------------------------------------------------------------------------


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="transport URL, or - for $" + URL_ENV)
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("--server", help="send to this server of the topic only")
    p.add_argument("--namespace", help="endpoint namespace")
    p.add_argument("--version", help="version the request needs (major.minor)")
    p.add_argument("--exchange", help="exchange (default: the control exchange)")


def _client(args: argparse.Namespace, **extra: Any) -> tuple[Any, Any]:
    import messaging

    transport = messaging.get_rpc_transport(None, _url(args.url))
    target = messaging.Target(topic=args.topic, server=args.server, namespace=args.namespace,
                              version=args.version, exchange=args.exchange, **extra)
    return transport, messaging.get_rpc_client(transport, target,
                                               timeout=getattr(args, "timeout", None))


def _call(args: argparse.Namespace) -> int:
    transport, client = _client(args)
    with transport:
        result = client.call({}, args.method, **_kv(args.arg))
    sys.stdout.write(_show(result) + "\n")
    return EXIT_OK


def _within(timeout: float, what: str, send: Callable[[], None]) -> None:
    """Run ``send``; give up after ``timeout`` seconds (the bus down or blocked) with an
    error saying the message may still be pending, so an operator is never left waiting
    for a driver's own send bound."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            send()
            outcome.append(None)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome.append(exc)

    sender = threading.Thread(target=run, name="messaging-cli-send", daemon=True)
    sender.start()
    sender.join(timeout)
    if not outcome:
        raise MessageDeliveryFailure(f"the bus did not take the {what} within {timeout:g} s "
                                     f"(it was not confirmed, and is dropped as this command "
                                     f"exits)")
    if outcome[0] is not None:
        raise outcome[0]


def _cast(args: argparse.Namespace) -> int:
    transport, client = _client(args, fanout=args.fanout or None)
    kwargs = _kv(args.arg)
    with transport:
        _within(args.timeout, "cast", lambda: client.cast({}, args.method, **kwargs))
    sys.stdout.write("sent\n")
    return EXIT_OK


def _ping(args: argparse.Namespace) -> int:
    transport, client = _client(args)
    where = f"{args.topic}.{args.server}" if args.server else args.topic
    with transport:
        began = time.perf_counter()
        try:
            answer = client.call({}, PING_METHOD)
        except NoSuchMethod:
            ms = (time.perf_counter() - began) * 1000
            sys.stdout.write(f"alive: a server of {where} answered in {ms:.1f} ms (its ping "
                             f"endpoint is not enabled: rpc_ping_enabled)\n")
            return EXIT_OK
    ms = (time.perf_counter() - began) * 1000
    sys.stdout.write(f"{answer} from {where} in {ms:.1f} ms\n")
    return EXIT_OK


# -- notification tools ------------------------------------------------------------------


def _notify(args: argparse.Namespace) -> int:
    import messaging

    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise _UsageError(f"--payload is not JSON: {exc}") from None
    with messaging.get_notification_transport(None, _url(args.url)) as transport:
        # Sent through the transport, not a Notifier: a failure must reach the operator.
        from .notify.notifier import _utcnow_str

        priority = "WARN" if args.priority == "warning" else args.priority.upper()
        message = {"message_id": str(uuid.uuid4()), "publisher_id": args.publisher_id,
                   "event_type": args.event_type, "priority": priority, "payload": payload,
                   "timestamp": _utcnow_str()}
        target = messaging.Target(topic=f"{args.topic}.{priority.lower()}")
        _within(args.timeout, "notification", lambda: transport.notify(target, {}, message))
    sys.stdout.write("sent\n")
    return EXIT_OK


def _listen(args: argparse.Namespace) -> int:
    import threading

    import messaging

    from .notify.dispatcher import PRIORITIES

    seen = [0]
    done = threading.Event()
    lock = threading.Lock()

    class Printer:
        """One endpoint method per priority, each printing what arrives."""

    def make(priority: str) -> Any:
        def endpoint(ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
                     metadata: Any) -> None:
            with lock:
                if args.json:
                    line = _show({"priority": priority, "event_type": event_type,
                                  "publisher_id": publisher_id, "payload": payload,
                                  "metadata": metadata, "ctxt": ctxt})
                else:
                    line = f"{priority.upper():8s} {event_type} from {publisher_id}: " \
                           f"{_show(payload)}"
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
                seen[0] += 1
                if args.count and seen[0] >= args.count:
                    done.set()
        return endpoint

    printer = Printer()
    for priority in PRIORITIES:
        setattr(printer, priority, make(priority))
    with messaging.get_notification_transport(None, _url(args.url)) as transport:
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=args.topic, exchange=args.exchange)], [printer],
            executor="blocking", pool=args.pool)
        listener.start()
        try:
            deadline = time.monotonic() + args.timeout
            while not listener.consuming and time.monotonic() < deadline:
                done.wait(0.05)
            if not listener.consuming:
                why = listener.last_error or "the bus did not confirm the subscription"
                sys.stderr.write(f"messaging listen: not subscribed within {args.timeout:g} "
                                 f"s: {why}\n")
                return EXIT_BUS
            sys.stderr.write(f"listening to {args.topic}"
                             f"{f' in pool {args.pool}' if args.pool else ''} "
                             f"(Ctrl-C to stop)\n")
            sys.stderr.flush()
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            listener.stop()
            listener.wait()
    return EXIT_OK


# -- bench -------------------------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_scenario

    if args.concurrency is not None and args.scenario != "call-concurrent":
        raise _UsageError(f"--concurrency applies to --scenario call-concurrent only, not "
                          f"to {args.scenario}")
    if args.n < 1 or (args.concurrency is not None and args.concurrency < 1) or \
            args.payload < 0:
        raise _UsageError("-n and --concurrency must be at least 1, --payload at least 0")
    progress = None
    if sys.stderr.isatty() and not args.json:
        def progress(done: int, total: int) -> None:
            width = 30
            filled = int(width * done / max(total, 1))
            sys.stderr.write(f"\r{args.scenario:16s} [{'#' * filled}{' ' * (width - filled)}] "
                             f"{done}/{total}")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    result = run_scenario(_url(args.url), args.scenario, n=args.n,
                          concurrency=args.concurrency, payload=args.payload,
                          progress=progress)
    if args.json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
        return EXIT_OK

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    def us(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f} us"

    rows = [("scenario", "messages", "rate/s", "p50 ms", "p99 ms", "client CPU/msg",
             "server CPU/msg", "broker CPU/msg", "server"),
            (result.scenario + (f" x{result.concurrency}" if result.concurrency > 1 else ""),
             str(result.n), f"{result.rate:,.0f}", ms(result.p50_ms), ms(result.p99_ms),
             us(result.client_cpu_us), us(result.server_cpu_us), us(result.broker_cpu_us),
             result.server_process)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    sys.stdout.write(f"{result.url}, payload {result.payload} bytes\n")
    for row in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                         .rstrip() + "\n")
    if result.server_cpu_us is None:
        sys.stdout.write("(client CPU includes the server: both run in this process)\n")
    return EXIT_OK


# -- main --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="messaging", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the getting-started scenario (no broker needed)")
    demo.add_argument("--url", default="fake://", help="transport URL (default fake://)")
    sub.add_parser("drivers", help="list installed drivers, their libraries and capabilities")

    call = sub.add_parser("call", help="call METHOD on a server of TOPIC; print the result")
    _target_args(call)
    call.add_argument("method", metavar="METHOD")
    call.add_argument("--arg", action="append", default=[], metavar="K=V",
                      help="an argument (JSON value, or text); repeatable")
    call.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    call.set_defaults(run=_call)

    cast = sub.add_parser("cast", help="cast METHOD to TOPIC (returns once the bus took it)")
    _target_args(cast)
    cast.add_argument("method", metavar="METHOD")
    cast.add_argument("--arg", action="append", default=[], metavar="K=V")
    cast.add_argument("--fanout", action="store_true", help="to every server of the topic")
    cast.add_argument("--timeout", type=float, default=30.0,
                      help="seconds the bus may take to accept it (default 30)")
    cast.set_defaults(run=_cast)

    ping = sub.add_parser("ping", help="check that a server of TOPIC answers")
    _target_args(ping)
    ping.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    ping.set_defaults(run=_ping)

    notify = sub.add_parser("notify", help="send one notification to TOPIC")
    notify.add_argument("url", metavar="URL", help="transport URL, or - for $" + URL_ENV)
    notify.add_argument("topic", metavar="TOPIC")
    notify.add_argument("event_type", metavar="EVENT_TYPE")
    notify.add_argument("--priority", default="info",
                        choices=["audit", "debug", "info", "warn", "warning", "error",
                                 "critical", "sample"])
    notify.add_argument("--payload", default="{}", help="JSON (default {})")
    notify.add_argument("--publisher-id", default="messaging-cli")
    notify.add_argument("--timeout", type=float, default=30.0,
                        help="seconds the bus may take to accept it (default 30)")
    notify.set_defaults(run=_notify)

    listen = sub.add_parser("listen", help="print notifications of TOPIC as they arrive")
    listen.add_argument("url", metavar="URL", help="transport URL, or - for $" + URL_ENV)
    listen.add_argument("topic", metavar="TOPIC")
    listen.add_argument("--pool", help="share one copy with other listeners of this pool")
    listen.add_argument("--exchange", help="exchange (default: the control exchange)")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    listen.add_argument("--count", type=int, default=0, help="stop after N (default: never)")
    listen.add_argument("--timeout", type=float, default=30.0,
                        help="seconds the subscription may take to be established, else exit "
                             "3 (default 30; reconnects after that are waited for)")
    listen.set_defaults(run=_listen)

    bench = sub.add_parser("bench", help="measure a transport: rate, latency, CPU per message")
    bench.add_argument("--url", required=True, help="transport URL, or - for $" + URL_ENV)
    bench.add_argument("--scenario", default="call",
                       choices=["call", "call-concurrent", "cast", "notify"])
    bench.add_argument("-n", type=int, default=2000, help="messages (default 2000)")
    bench.add_argument("--concurrency", type=int, default=None,
                       help="threads for --scenario call-concurrent (default 8); refused "
                            "for other scenarios")
    bench.add_argument("--payload", type=int, default=100, help="bytes per message (100)")
    bench.add_argument("--json", action="store_true", help="print the result as JSON")
    bench.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``messaging`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "drivers":
        return _drivers()
    if args.command == "demo":
        from .demo import run

        run(sys.stdout, args.url)
        return EXIT_OK
    try:
        code: int = args.run(args)
        return code
    except (_UsageError, InvalidTransportURL, DriverLoadFailure, InvalidTarget) as exc:
        sys.stderr.write(f"messaging {args.command}: {exc}\n")
        return EXIT_USAGE
    except MessagingException as exc:
        if _is_remote(exc):
            sys.stderr.write(f"messaging {args.command}: the server raised "
                             f"{type(exc).__name__}: {exc}\n")
            return EXIT_REMOTE
        sys.stderr.write(f"messaging {args.command}: {type(exc).__name__}: {exc}\n")
        return EXIT_BUS
    except Exception as exc:  # a remote exception rebuilt as a builtin type (ValueError...)
        if _is_remote(exc):
            sys.stderr.write(f"messaging {args.command}: the server raised "
                             f"{type(exc).__name__}: {exc}\n")
            return EXIT_REMOTE
        raise


def _is_remote(exc: BaseException) -> bool:
    """True for an exception that came back from the server (rebuilt or RemoteError)."""
    from .exceptions import RemoteError, RPCDispatcherError

    return isinstance(exc, RemoteError | RPCDispatcherError) or \
        hasattr(exc, "remote_traceback")


if __name__ == "__main__":
    sys.exit(main())
