"""Bodies in and out: JSON text, optionally compressed the way kombu does it.

oslo.messaging publishes through kombu with ``serializer='json'``: the body
is the JSON text of the envelope (``json.dumps`` defaults, UTF-8),
``content_type`` is ``application/json`` and ``content_encoding`` ``utf-8``.
With ``kombu_compression`` kombu compresses that text and names the method
in an application header ``compression``; receivers decompress whenever the
header is present, whatever their own setting.
"""

from __future__ import annotations

from typing import Any

from kombu import compression as _kombu_compression

from messaging.envelope import MalformedMessage, dumps, loads

__all__ = ["compression_methods", "decode_body", "encode_body"]

#: kombu's compression registry is untyped: used through this one name.
_compression: Any = _kombu_compression


def compression_methods() -> set[str]:
    """Names ``kombu_compression`` accepts (``gzip``, ``bz2``... and their content types)."""
    names = set(_compression.encoders())
    names.update(getattr(_compression, "_aliases", {}))
    return names


def encode_body(obj: Any, method: str | None) -> tuple[bytes, dict[str, Any] | None]:
    """JSON bytes of ``obj`` and the headers to send with them (None: no headers)."""
    body = dumps(obj).encode("utf-8")
    if not method:
        return body, None
    compressed, content_type = _compression.compress(body, method)
    return compressed, {"compression": content_type}


def decode_body(body: bytes | str, headers: dict[str, Any] | None) -> Any:
    """Parse a received body (decompressing it first if a header says so).

    Raises :class:`~messaging.envelope.MalformedMessage` for anything that
    is not JSON.
    """
    method = (headers or {}).get("compression")
    if method:
        try:
            body = _compression.decompress(body, method)
        except Exception as exc:
            raise MalformedMessage(f"cannot decompress body ({method}): {exc}") from None
    return loads(body)
