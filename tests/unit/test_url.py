"""TransportURL parsing, rendering and masking."""

from __future__ import annotations

import logging

import pytest

from messaging import InvalidTransportURL, TransportHost, TransportURL


@pytest.mark.parametrize("url, expected", [
    ("rabbit://", TransportURL("rabbit")),
    ("rabbit:///", TransportURL("rabbit", virtual_host="")),
    ("rabbit:////", TransportURL("rabbit", virtual_host="/")),
    ("fake:", TransportURL("fake")),
    ("rabbit://h/my%2Fvhost", TransportURL("rabbit", (TransportHost("h"),), "my/vhost")),
    ("rabbit://u:p@h:5672/v", TransportURL("rabbit", (TransportHost("h", 5672, "u", "p"),), "v")),
    ("rabbit://u@h", TransportURL("rabbit", (TransportHost("h", None, "u", None),))),
    ("rabbit://u:@h", TransportURL("rabbit", (TransportHost("h", None, "u", ""),))),
    ("rabbit://[::1]:5673", TransportURL("rabbit", (TransportHost("::1", 5673),))),
    ("rabbit://[fe80::1]", TransportURL("rabbit", (TransportHost("fe80::1"),))),
    ("rabbit://u%24:p%26@host:1234/%24",
     TransportURL("rabbit", (TransportHost("host", 1234, "u$", "p&"),), "$")),
    ("rabbit://us@er:pw@h", TransportURL("rabbit", (TransportHost("h", None, "us@er", "pw"),))),
])
def test_parse(url, expected):
    assert TransportURL.parse(url) == expected


def test_multiple_hosts_keep_order_and_own_credentials():
    url = TransportURL.parse("rabbit://a:1@h1:5672,b:2@h2:5673,[::1]:5674/vh")
    assert [(h.hostname, h.port, h.username, h.password) for h in url.hosts] == [
        ("h1", 5672, "a", "1"), ("h2", 5673, "b", "2"), ("::1", 5674, None, None)]
    assert url.virtual_host == "vh"


def test_partial_credentials_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="messaging.url"):
        TransportURL.parse("rabbit://u:secret@h1,h2")
    assert "credentials for some hosts only" in caplog.text
    assert "secret" not in caplog.text


def test_query_repeated_keys_join_with_commas():
    url = TransportURL.parse("rabbit://h/?a=1&a=2&b=x%20y")
    assert url.query == {"a": "1,2", "b": "x y"}


@pytest.mark.parametrize("url", [
    "rabbit://u:p%40ss@h1:5672,h2:5673/vh",
    "rabbit://[::1]:5672/",
    "rabbit://u%24:p%26@host:1234/%24",
    "rabbit://h/my%2Fvhost?ssl=1&heartbeat_timeout_threshold=10",
    "fake://",
])
def test_str_round_trips(url):
    parsed = TransportURL.parse(url)
    assert TransportURL.parse(str(parsed)) == parsed


def test_repr_and_render_mask_password():
    url = TransportURL.parse("rabbit://user:topsecret@h1,u2:other@h2/v")
    assert "topsecret" not in repr(url) and "other" not in repr(url)
    assert "topsecret" not in repr(url.hosts[0])
    assert "****" in repr(url)
    assert "topsecret" in str(url)


def test_equal_urls_hash_equal():
    a = TransportURL.parse("rabbit://h/?x=1")
    b = TransportURL.parse("rabbit://h/?x=1")
    assert a == b and hash(a) == hash(b)
    assert a != TransportURL.parse("rabbit://h/?x=2")


@pytest.mark.parametrize("url, part", [
    ("127.0.0.1:5672", "No scheme"),
    ("rabbit://h:notaport/", "Invalid port 'notaport'"),
    ("rabbit://h:70000/", "Invalid port '70000'"),
    ("rabbit://[::1/", "Unterminated IPv6"),
    ("rabbit://::1:5672/", "must be in brackets"),
    ("rabbit://h1,,h2/", "Empty host"),
    ("ra bbit://h/", "Invalid scheme"),
    ("rabbit://h/?=&&", "Invalid query"),
])
def test_bad_urls_name_the_bad_part(url, part):
    with pytest.raises(InvalidTransportURL) as info:
        TransportURL.parse(url)
    assert part in str(info.value)


def test_bad_url_error_masks_password():
    with pytest.raises(InvalidTransportURL) as info:
        TransportURL.parse("rabbit://u:hunter2@h:bad/")
    assert "hunter2" not in str(info.value)


def test_non_string_is_refused():
    with pytest.raises(InvalidTransportURL, match="Wrong URL type"):
        TransportURL.parse(42)  # type: ignore[arg-type]


def test_scheme_is_part_before_plus():
    assert TransportURL.parse("zmq+redis://127.0.0.1:6379").scheme == "zmq"
