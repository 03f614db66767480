"""The driver's wire format on ZeroMQ: one frame, a header line and the JSON envelope.

Every message a client sends is a single frame::

    b"messaging-zmq/1 <kind> <key>\n" + body

``kind`` is ``call``, ``cast`` or ``notify``; ``key`` is the matchmaker key
the sender resolved (see :func:`rpc_key`; keys are URL-quoted, so they hold
no space or newline), which the receiving listener checks against the keys
it registered, so a stale matchmaker entry pointing at a reused port
delivers nothing; ``body`` is the oslo.messaging JSON envelope
(:mod:`messaging.envelope`), the same bytes the rabbit driver puts on
RabbitMQ. A ROUTER prepends the sender's identity frame on receipt. Replies
go back over the same connection as ``b"messaging-zmq/1 reply\n" + body``.
Fanout casts go through PUB/SUB with the subscription prefix in front
(:func:`fanout_prefix`). One frame, not several: every frame is a separate
call into libzmq, and on a busy machine each costs as much as the parsing.

Anything else arriving on a socket (another program, random bytes decoded
by ZeroMQ's old unversioned protocol) is logged and dropped.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote, unquote

from messaging.addressing import fanout_exchange, notification_route, server_key
from messaging.target import Target

__all__ = ["BadFrames", "CALL", "CAST", "KINDS", "NOTIFY", "PROTOCOL", "Peer", "REPLY",
           "fanout_key", "fanout_prefix", "hello_prefix", "notify_key", "pack",
           "parse_reply_frame", "reply", "rpc_key", "unpack"]

PROTOCOL = b"messaging-zmq/1"
CALL = b"call"
CAST = b"cast"
NOTIFY = b"notify"
KINDS = frozenset({CALL, CAST, NOTIFY})
#: How a reply (or call-monitor heartbeat) frame starts.
REPLY = PROTOCOL + b" reply\n"


class BadFrames(ValueError):
    """Frames that are not a message of this driver.

    The text says why, never what the bytes were (they may be anybody's
    data, and logs at WARNING carry no message contents); :attr:`sample`
    keeps the first bytes for a DEBUG log.
    """

    def __init__(self, reason: str, sample: bytes = b"") -> None:
        super().__init__(reason)
        self.sample = sample


def _part(text: str) -> str:
    return quote(text, safe="")


def rpc_key(target: Target, default_exchange: str) -> str:
    """Matchmaker key of a call or cast to ``target`` (topic, or one server of it)."""
    topic = target.topic or ""
    routing_key = server_key(topic, target.server) if target.server else topic
    return f"rpc/{_part(target.exchange or default_exchange)}/{_part(routing_key)}"


def fanout_key(topic: str) -> str:
    """Matchmaker key (and subscription name) of fanout casts to ``topic``."""
    return f"fanout/{_part(fanout_exchange(topic))}"


def notify_key(target: Target, default_exchange: str) -> str:
    """Matchmaker key of notifications to ``target.topic`` (``<topic>.<priority>``)."""
    exchange, routing_key = notification_route(target, default_exchange)
    return f"notify/{_part(exchange)}/{_part(routing_key)}"


def fanout_prefix(key: str) -> bytes:
    """SUB prefix of fanout messages for ``key`` (ended by NUL: no key prefixes another)."""
    return b"F" + key.encode("utf-8") + b"\0"


def hello_prefix(endpoint: str) -> bytes:
    """A subscription that tells a publisher this subscriber's other subscriptions arrived."""
    return b"H" + endpoint.encode("utf-8") + b"\0"


def pack(kind: bytes, key: str, body: bytes) -> bytes:
    """The frame of a call, cast or notification for ``key``."""
    return b"%s %s %s\n%s" % (PROTOCOL, kind, key.encode("utf-8"), body)


def unpack(frame: bytes) -> tuple[bytes, str, bytes]:
    """``(kind, key, body)`` of a message frame; :class:`BadFrames` otherwise."""
    head, newline, body = frame.partition(b"\n")
    parts = head.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != PROTOCOL:
        raise BadFrames(f"no {PROTOCOL.decode()} <kind> <key> header", head[:64])
    kind, key = parts[1], parts[2]
    if kind not in KINDS:
        raise BadFrames(f"unknown message kind ({len(kind)} bytes)", kind[:32])
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        raise BadFrames("key is not UTF-8", key[:64]) from None
    return kind, text, body


def reply(body: bytes) -> bytes:
    """The frame of a reply (or call-monitor heartbeat)."""
    return REPLY + body


def parse_reply_frame(frames: list[bytes]) -> bytes:
    """The body of a reply; :class:`BadFrames` if ``frames`` is not one."""
    if len(frames) != 1 or not frames[0].startswith(REPLY):
        raise BadFrames(f"{len(frames)} frame(s) without the reply header",
                        frames[0][:32] if frames else b"")
    return frames[0][len(REPLY):]


class Peer(NamedTuple):
    """A matchmaker value: the endpoint of a listener and, for notifications, its pool."""

    endpoint: str
    group: str | None = None

    def encode(self) -> str:
        """``tcp://host:port`` or ``tcp://host:port#<quoted pool>``."""
        return self.endpoint if self.group is None else f"{self.endpoint}#{_part(self.group)}"

    @classmethod
    def decode(cls, value: str) -> Peer:
        """Inverse of :meth:`encode` (endpoints never contain ``#``)."""
        endpoint, hash_, group = value.partition("#")
        return cls(endpoint, unquote(group) if hash_ else None)
