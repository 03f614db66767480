"""oslo.messaging's message format, built and parsed in one place.

Requests, replies and version 2.0 notifications travel as the envelope
``{"oslo.version": "2.0", "oslo.message": "<JSON string of the inner dict>"}``.
The inner dict carries ``_msg_id``/``_reply_q``/``_timeout`` (calls),
``_unique_id`` (every message) and one ``_context_<key>`` per context item.
Any driver may use these helpers; the rabbit drivers must, to stay
wire-compatible with oslo.messaging.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import json
import json.encoder
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .remote import serialize_exception

__all__ = [
    "ENVELOPE_VERSION",
    "MalformedMessage",
    "Request",
    "ReplyFrame",
    "dumps",
    "loads",
    "encode",
    "decode",
    "wrap",
    "encode_wrapped",
    "encode_envelope",
    "unwrap",
    "build_request",
    "parse_request",
    "build_reply",
    "wrap_reply",
    "build_heartbeat",
    "parse_reply",
    "build_notification",
    "parse_notification",
    "new_id",
    "new_uuid_str",
]

ENVELOPE_VERSION = "2.0"
_VERSION_KEY = "oslo.version"
_MESSAGE_KEY = "oslo.message"
_CONTEXT_PREFIX = "_context_"


class MalformedMessage(ValueError):
    """A body that is not a message this library can read (bad JSON, bad shape)."""


class _Ids:
    """Message ids: 20 random hex digits per process, then a 12-digit counter.

    32 lower-case hex digits, as oslo's ``uuid4().hex`` (peers treat them as
    opaque strings). The prefix is drawn from ``uuid4`` (80 random bits) when
    the process starts and again in a forked child, so ids stay unique across
    processes and restarts; within a process the counter makes them unique
    (2**48 ids before it would wrap) at a fraction of a uuid4's cost.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:20]
        self.counter = itertools.count()  # next() is atomic under the GIL


_IDS = _Ids()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_IDS.reset)


def new_id() -> str:
    """A fresh message or reply id: 32 hex digits, unique across processes (see :class:`_Ids`)."""
    ids = _IDS
    return f"{ids.prefix}{next(ids.counter) & 0xFFFFFFFFFFFF:012x}"


def new_uuid_str() -> str:
    """:func:`new_id` in the dashed UUID form (``str(uuid.uuid4())``'s), as notifications use."""
    h = new_id()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _primitive(obj: Any) -> Any:
    if isinstance(obj, datetime.datetime | datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable; "
                    f"convert it in a Serializer")


def dumps(obj: Any) -> str:
    """JSON text of ``obj``; common types (datetime, set, UUID...) become primitives."""
    return json.dumps(obj, default=_primitive)


def loads(text: str | bytes) -> Any:
    """Parse JSON (bytes must be UTF-8), raising :class:`MalformedMessage` otherwise."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"body is not UTF-8: {exc}") from None
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage(f"body is not JSON: {exc}") from None


def encode(obj: Any) -> bytes:
    """UTF-8 JSON bytes of ``obj``."""
    return dumps(obj).encode("utf-8")


def decode(body: bytes | str) -> Any:
    """Inverse of :func:`encode`."""
    return loads(body)


def wrap(inner: Mapping[str, Any]) -> dict[str, str]:
    """Put an inner dict into the 2.0 envelope."""
    return {_VERSION_KEY: ENVELOPE_VERSION, _MESSAGE_KEY: dumps(inner)}


_ENVELOPE_HEAD = f'{{"{_VERSION_KEY}": "{ENVELOPE_VERSION}", "{_MESSAGE_KEY}": '
_ENVELOPE_KEYS = (_VERSION_KEY, _MESSAGE_KEY)
_quote = json.encoder.encode_basestring_ascii


def encode_wrapped(inner: Mapping[str, Any]) -> bytes:
    """The wire bytes of ``inner`` in the 2.0 envelope: ``encode(wrap(inner))``, made once.

    The same bytes as ``encode(wrap(inner))`` (``json.dumps`` defaults), without
    building the outer dict and serializing it a second time. Raises
    ``TypeError``/``ValueError`` for what JSON cannot carry, before anything
    is sent.
    """
    return (_ENVELOPE_HEAD + _quote(dumps(inner)) + "}").encode("utf-8")


def encode_envelope(envelope: Mapping[str, Any]) -> bytes:
    """:func:`encode` of an envelope made by :func:`wrap` or :func:`wrap_reply`, done faster."""
    if isinstance(envelope, dict) and tuple(envelope) == _ENVELOPE_KEYS \
            and envelope[_VERSION_KEY] == ENVELOPE_VERSION:
        text = envelope[_MESSAGE_KEY]
        if isinstance(text, str):
            return (_ENVELOPE_HEAD + _quote(text) + "}").encode("utf-8")
    return encode(envelope)


def unwrap(body: Any) -> dict[str, Any]:
    """Return the inner dict of an enveloped or bare (1.0) message."""
    if not isinstance(body, dict):
        raise MalformedMessage(f"message is a {type(body).__name__}, not an object")
    if _VERSION_KEY in body and _MESSAGE_KEY in body:
        version = str(body[_VERSION_KEY])
        major, _, minor = version.partition(".")
        if major != "2" or (minor.isdigit() and int(minor) > 0):
            raise MalformedMessage(f"unsupported envelope version {version}")
        inner = loads(body[_MESSAGE_KEY]) if isinstance(body[_MESSAGE_KEY], str | bytes) \
            else body[_MESSAGE_KEY]
        if not isinstance(inner, dict):
            raise MalformedMessage("enveloped message is not an object")
        return inner
    return body


def _pack_context(msg: dict[str, Any], ctxt: Mapping[str, Any]) -> None:
    for key, value in ctxt.items():
        msg[_CONTEXT_PREFIX + str(key)] = value


def _unpack_context(inner: dict[str, Any]) -> dict[str, Any]:
    ctxt = {k[len(_CONTEXT_PREFIX):]: inner.pop(k) for k in list(inner)
            if k.startswith(_CONTEXT_PREFIX)}
    return ctxt


@dataclass(frozen=True)
class Request:
    """A parsed RPC request."""

    ctxt: dict[str, Any]
    message: dict[str, Any]
    msg_id: str | None
    reply_q: str | None
    client_timeout: float | None
    unique_id: str | None


def build_request(message: Mapping[str, Any], ctxt: Mapping[str, Any], *,
                  msg_id: str | None = None, reply_q: str | None = None,
                  timeout: float | None = None) -> dict[str, Any]:
    """The inner dict of a request; pass ``msg_id``/``reply_q`` for a call."""
    inner = dict(message)
    if msg_id is not None:
        inner["_msg_id"] = msg_id
        inner["_reply_q"] = reply_q
        inner["_timeout"] = timeout
    inner["_unique_id"] = new_id()
    _pack_context(inner, ctxt)
    return inner


def parse_request(inner: Mapping[str, Any]) -> Request:
    """Split an inner dict into context, message and call metadata."""
    data = dict(inner)
    ctxt = _unpack_context(data)
    msg_id = data.pop("_msg_id", None)
    reply_q = data.pop("_reply_q", None)
    timeout = data.pop("_timeout", None)
    unique_id = data.pop("_unique_id", None)
    if not isinstance(data.get("method"), str):
        raise MalformedMessage("request has no method name")
    if not isinstance(data.get("args", {}), dict):
        raise MalformedMessage("request args are not an object")
    if timeout is not None and not isinstance(timeout, int | float):
        timeout = None
    return Request(ctxt, data, msg_id if isinstance(msg_id, str) else None,
                   reply_q if isinstance(reply_q, str) else None, timeout,
                   unique_id if isinstance(unique_id, str) else None)


@dataclass(frozen=True)
class ReplyFrame:
    """One parsed reply message (a heartbeat has ``ending`` False and no content)."""

    msg_id: str | None
    result: Any
    failure: dict[str, Any] | None
    ending: bool


def build_reply(msg_id: str, result: Any = None,
                failure: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The inner dict of a final reply (``ending: true``)."""
    text = dumps(dict(failure)) if failure is not None else None
    return {"result": result, "failure": text, "ending": True,
            "_msg_id": msg_id, "_unique_id": new_id()}


def wrap_reply(msg_id: str, result: Any = None,
               failure: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The enveloped final reply, ready to encode.

    A result the bus cannot carry (not JSON) becomes a failure reply naming
    the problem, so the caller gets an error at once instead of a timeout.
    """
    try:
        return wrap(build_reply(msg_id, result, failure))
    except (TypeError, ValueError) as exc:
        return wrap(build_reply(msg_id, failure=serialize_exception(exc)))


def build_heartbeat(msg_id: str) -> dict[str, Any]:
    """The inner dict of a call-monitor heartbeat (``ending: false``)."""
    return {"result": None, "failure": None, "ending": False,
            "_msg_id": msg_id, "_unique_id": new_id()}


def parse_reply(inner: Mapping[str, Any]) -> ReplyFrame:
    """Parse a reply; a missing ``ending`` counts as False, as in oslo."""
    failure = inner.get("failure")
    if isinstance(failure, str | bytes):
        failure = loads(failure)
    if failure is not None and not isinstance(failure, dict):
        raise MalformedMessage("reply failure is not an object")
    return ReplyFrame(inner.get("_msg_id"), inner.get("result"), failure,
                      bool(inner.get("ending", False)))


def build_notification(message: Mapping[str, Any], ctxt: Mapping[str, Any]) -> dict[str, Any]:
    """The inner dict of a notification (wrap it for version 2.0)."""
    inner = dict(message)
    inner["_unique_id"] = new_id()
    _pack_context(inner, ctxt)
    return inner


def parse_notification(inner: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(ctxt, message)``; the message must carry at least a priority."""
    data = dict(inner)
    ctxt = _unpack_context(data)
    data.pop("_unique_id", None)
    if not isinstance(data.get("priority"), str):
        raise MalformedMessage("notification has no priority")
    return ctxt, data
