"""Bodies in and out: JSON text, optionally compressed the way kombu does it.

oslo.messaging publishes through kombu with ``serializer='json'``: the body
is the JSON text of the envelope (``json.dumps`` defaults, UTF-8),
``content_type`` is ``application/json`` and ``content_encoding`` ``utf-8``.
With ``kombu_compression`` kombu compresses that text and names the method
in an application header ``compression`` (a content type such as
``application/x-gzip``); receivers decompress whenever the header is
present, whatever their own setting. The methods here are kombu's built-in
ones, done with the standard library, so no AMQP client is needed to read
or write them.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from messaging.envelope import MalformedMessage, encode_envelope, encode_wrapped, loads

__all__ = ["compression_methods", "decode_body", "encode_body"]

_Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]

#: content type (the header's value) -> (compress, decompress); kombu's names and functions.
_CODECS: dict[str, _Codec] = {
    "application/x-gzip": (zlib.compress, zlib.decompress),
    "application/x-bz2": (bz2.compress, bz2.decompress),
    "application/x-lzma": (lzma.compress, lzma.decompress),
}
#: names ``kombu_compression`` accepts besides the content types themselves (kombu's aliases)
_ALIASES = {"gzip": "application/x-gzip", "zlib": "application/x-gzip",
            "bzip2": "application/x-bz2", "bzip": "application/x-bz2",
            "lzma": "application/x-lzma", "xz": "application/x-lzma"}


def compression_methods() -> set[str]:
    """Names ``kombu_compression`` accepts (``gzip``, ``bzip2``... and their content types)."""
    return set(_CODECS) | set(_ALIASES)


def encode_body(obj: Any, method: str | None, *, envelope: bool = False,
                ) -> tuple[bytes, dict[str, Any] | None]:
    """JSON bytes of ``obj`` and the headers to send with them (None: no headers).

    With ``envelope``, ``obj`` is an inner dict, sent in the 2.0 envelope
    (:func:`~messaging.envelope.encode_wrapped`: encoded once).
    """
    body = encode_wrapped(obj) if envelope else encode_envelope(obj)
    if not method:
        return body, None
    content_type = _ALIASES.get(method, method)
    return _CODECS[content_type][0](body), {"compression": content_type}


def decode_body(body: bytes | str, headers: dict[str, Any] | None) -> Any:
    """Parse a received body (decompressing it first if a header says so).

    Raises :class:`~messaging.envelope.MalformedMessage` for anything that
    is not JSON, or compressed with a method this library does not know.
    """
    method = (headers or {}).get("compression")
    if method:
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        codec = _CODECS.get(_ALIASES.get(method, method))
        if codec is None:
            raise MalformedMessage(f"cannot decompress body: unknown method {method!r}")
        try:
            raw = body.encode("utf-8") if isinstance(body, str) else body
            body = codec[1](raw)
        except Exception as exc:
            raise MalformedMessage(f"cannot decompress body ({method}): {exc}") from None
    return loads(body)
