"""AMQP 0-9-1 bodies: kombu's JSON text, compressed as kombu compresses (no client library).

oslo.messaging sends ``json.dumps`` of the envelope as UTF-8; with
``kombu_compression`` kombu compresses it and names the method in a
``compression`` header (a content type), which every receiver honours
whatever its own setting. The names and content types are kombu's own.
"""

from __future__ import annotations

import bz2
import json
import lzma
import zlib

import pytest
from messaging_amqp091.codec import compression_methods, decode_body, encode_body

from messaging.envelope import MalformedMessage
from messaging.exceptions import InvalidTransportURL

ENVELOPE = {"oslo.version": "2.0", "oslo.message": json.dumps({"method": "m", "x": "é" * 50})}

#: kombu_compression name -> (content type in the header, the stdlib function kombu uses)
KOMBU = {
    "gzip": ("application/x-gzip", zlib.decompress),
    "zlib": ("application/x-gzip", zlib.decompress),
    "bzip2": ("application/x-bz2", bz2.decompress),
    "bzip": ("application/x-bz2", bz2.decompress),
    "lzma": ("application/x-lzma", lzma.decompress),
    "xz": ("application/x-lzma", lzma.decompress),
}


def test_an_uncompressed_body_is_kombus_json_text_with_no_headers():
    assert encode_body(ENVELOPE, None) == (json.dumps(ENVELOPE).encode("utf-8"), None)


def test_the_accepted_names_are_kombus_aliases_and_content_types():
    assert compression_methods() == set(KOMBU) | {ct for ct, _ in KOMBU.values()}


@pytest.mark.parametrize("name", [*KOMBU, "application/x-gzip", "application/x-bz2",
                                  "application/x-lzma"])
def test_each_method_compresses_as_kombu_and_names_its_content_type(name):
    content_type, decompress = KOMBU.get(name) or (name, None)
    body, headers = encode_body(ENVELOPE, name)
    assert headers == {"compression": content_type}
    plain = json.dumps(ENVELOPE).encode("utf-8")
    if decompress is not None:
        assert decompress(body) == plain
    assert len(body) < len(plain)
    assert decode_body(body, headers) == ENVELOPE


@pytest.mark.parametrize("content_type, compress", [
    ("application/x-gzip", zlib.compress), ("application/x-bz2", bz2.compress),
    ("application/x-lzma", lzma.compress)])
def test_a_body_compressed_by_kombu_is_read_whatever_our_own_setting(content_type, compress):
    body = compress(json.dumps(ENVELOPE).encode("utf-8"))
    assert decode_body(body, {"compression": content_type}) == ENVELOPE
    assert decode_body(body, {"compression": content_type.encode()}) == ENVELOPE  # bytes


def test_a_plain_body_is_read_as_bytes_or_text():
    assert decode_body(json.dumps(ENVELOPE).encode(), None) == ENVELOPE
    assert decode_body(json.dumps(ENVELOPE), {}) == ENVELOPE


@pytest.mark.parametrize("body, headers, named", [
    (b"\x00zstd", {"compression": "application/zstd"}, "unknown method 'application/zstd'"),
    (b"not gzip", {"compression": "application/x-gzip"},
     r"cannot decompress body \(application/x-gzip\)"),
    (zlib.compress(b"{not json"), {"compression": "application/x-gzip"}, "not JSON"),
    (b"\xff\xfe", None, "not UTF-8|not JSON"),
])
def test_a_body_that_cannot_be_read_is_a_malformed_message_saying_why(body, headers, named):
    with pytest.raises(MalformedMessage, match=named):
        decode_body(body, headers)


@pytest.mark.parametrize("value", ["snappy", "zstd", "bz2", "GZIP"])
def test_an_unknown_compression_name_is_refused_when_the_transport_is_built(fake_amqp, value):
    with pytest.raises(InvalidTransportURL, match=f"kombu_compression '{value}'") as info:
        fake_amqp(f"kombu_compression={value}")
    assert "secret" not in str(info.value)  # the URL's password
    with pytest.raises(InvalidTransportURL, match=f"kombu_compression '{value}'"):
        fake_amqp(conf={"oslo_messaging_rabbit": {"kombu_compression": value}})


def test_a_known_compression_name_reaches_every_body_the_driver_sends(fake_amqp):
    from messaging.target import Target

    driver, factory = fake_amqp("kombu_compression=xz")
    driver.cast(Target(topic="t"), {}, {"method": "m", "args": {}})
    (publish,) = factory.only("client").published
    assert publish.headers == {"compression": "application/x-lzma"}
    inner = json.loads(decode_body(publish.body, publish.headers)["oslo.message"])
    assert inner["method"] == "m"
