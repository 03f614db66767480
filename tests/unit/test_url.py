"""TransportURL parsing, rendering and masking."""

from __future__ import annotations

import logging

import pytest

from messaging import InvalidTransportURL, TransportHost, TransportURL


@pytest.mark.parametrize("url, expected", [
    ("rabbit://", TransportURL("rabbit")),
    ("rabbit:///", TransportURL("rabbit", "")),
    ("rabbit:////", TransportURL("rabbit", "/")),
    ("fake:", TransportURL("fake")),
    ("rabbit://h/my%2Fvhost", TransportURL("rabbit", "my/vhost", [TransportHost("h")])),
    ("rabbit://u:p@h:5672/v", TransportURL("rabbit", "v", [TransportHost("h", 5672, "u", "p")])),
    ("rabbit://u@h", TransportURL("rabbit", None, [TransportHost("h", None, "u", None)])),
    ("rabbit://u:@h", TransportURL("rabbit", None, [TransportHost("h", None, "u", "")])),
    ("rabbit://[::1]:5673", TransportURL("rabbit", None, [TransportHost("::1", 5673)])),
    ("rabbit://[fe80::1]", TransportURL("rabbit", None, [TransportHost("fe80::1")])),
    ("rabbit://u%24:p%26@host:1234/%24",
     TransportURL("rabbit", "$", [TransportHost("host", 1234, "u$", "p&")])),
    ("rabbit://us@er:pw@h",
     TransportURL("rabbit", None, [TransportHost("h", None, "us@er", "pw")])),
])
def test_parse(url, expected):
    assert TransportURL.parse(url) == expected
    assert TransportURL.parse(None, url) == expected


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
    "rabbit://[::1]:5672/v",
    "rabbit://u%24:p%26@host:1234/%24",
    "rabbit://h/my%2Fvhost?ssl=1&heartbeat_timeout_threshold=10",
    "rabbit://h//leading-slash",
])
def test_str_round_trips(url):
    parsed = TransportURL.parse(url)
    again = TransportURL.parse(str(parsed))
    assert again == parsed and again.query == parsed.query


def test_repr_and_render_mask_password():
    url = TransportURL.parse("rabbit://user:topsecret@h1,u2:other@h2/v")
    assert "topsecret" not in repr(url) and "other" not in repr(url)
    assert "topsecret" not in repr(url.hosts[0])
    assert "****" in repr(url)
    assert "topsecret" in str(url)


def test_equality_and_hash_ignore_the_query_as_oslo():
    a = TransportURL.parse("rabbit://h/v?x=1")
    b = TransportURL.parse("rabbit://h/v?x=2")
    assert a == b and hash(a) == hash(b)
    assert a != TransportURL.parse("rabbit://h/other?x=1")
    assert a != TransportURL.parse("rabbit://h2/v?x=1")
    assert a != TransportURL.parse("kombu://h/v?x=1")


@pytest.mark.parametrize("url, part", [
    ("127.0.0.1:5672", "No scheme"),
    ("rabbit://h:notaport/", "Invalid port 'notaport'"),
    ("rabbit://h:70000/", "Invalid port '70000'"),
    ("rabbit://h:/", "Invalid port ''"),
    ("rabbit://[::1/", "Invalid IPv6 URL"),
    ("rabbit://[::1]x/", "Unexpected text after IPv6 address"),
    ("rabbit://h:1:2/", "not an IPv6 address"),
    ("ra bbit://h/", "No scheme"),
    ("1abc://h/", "No scheme"),
])
def test_bad_urls_name_the_bad_part(url, part):
    with pytest.raises(InvalidTransportURL) as info:
        TransportURL.parse(url)
    assert part in str(info.value)


def test_a_bad_url_is_also_a_value_error_as_oslos_bare_one():
    with pytest.raises(ValueError):
        TransportURL.parse("rabbit://h:notaport/")


@pytest.mark.parametrize("url, query", [
    ("rabbit://h/?a=1&b=", {"a": "1"}),         # an empty value is left out
    ("rabbit://h/?b=&a=1", {"a": "1"}),
    ("rabbit://h/?a=1&b", {"a": "1"}),          # so is a key without '='
    ("rabbit://h/?a=1&a=&a=2", {"a": "1,2"}),   # and an empty value among repeats
    ("rabbit://h/?&&a=1&&b=2&", {"a": "1", "b": "2"}),
    ("rabbit://h/?=&&", {}),
    ("rabbit://h/?a=b=c", {"a": "b=c"}),
    ("rabbit://h/?a=x+y%2Bz", {"a": "x y+z"}),
    ("rabbit://h/?a=1;b=2", {"a": "1;b=2"}),    # only '&' separates pairs
    ("rabbit://h/v?a=1#frag", {"a": "1"}),
    ("rabbit://h/v#frag?a=1", {}),               # a fragment ends the URL
])
def test_the_query_is_read_as_oslo_reads_it(url, query):
    assert TransportURL.parse(url).query == query


@pytest.mark.parametrize("url, hosts, vhost", [
    ("rabbit://h1,,h2/", [("h1", None), ("h2", None)], ""),     # empty entries skipped
    ("rabbit://,/", [], ""),
    ("rabbit://::1/", [("::1", None)], ""),                       # unbracketed IPv6, no port
    ("rabbit://fe80::1:5672/", [("fe80::1:5672", None)], ""),
    ("rabbit://h%41/", [("h%41", None)], ""),                     # host names kept as written
    ("rabbit:h", [], None),                                        # no '//': no hosts
    ("fake:/", [], ""),
    ("rabbit://u:p@:5672/", [("", 5672)], ""),
])
def test_hosts_and_virtual_host_are_read_as_oslo_reads_them(url, hosts, vhost):
    parsed = TransportURL.parse(url)
    assert [(h.hostname, h.port) for h in parsed.hosts] == hosts
    assert parsed.virtual_host == vhost


def test_bad_url_error_masks_password():
    with pytest.raises(InvalidTransportURL) as info:
        TransportURL.parse("rabbit://u:hunter2@h:bad/")
    assert "hunter2" not in str(info.value)


def test_non_string_is_refused():
    with pytest.raises(InvalidTransportURL, match="Wrong URL type"):
        TransportURL.parse(42)
    with pytest.raises(InvalidTransportURL, match="Wrong URL type"):
        TransportURL.parse(None, 42)


def test_scheme_is_part_before_plus():
    assert TransportURL.parse("zmq+redis://127.0.0.1:6379").scheme == "zmq"


# -- oslo.messaging's signatures -------------------------------------------------------------


@pytest.fixture
def conf():
    cfg = pytest.importorskip("oslo_config.cfg")
    conf = cfg.ConfigOpts()
    conf([])
    return conf


def test_parse_takes_conf_first_as_oslo(conf):
    url = TransportURL.parse(conf, "rabbit://u:p@h:5672/vh")
    assert url == TransportURL("rabbit", "vh", [TransportHost("h", 5672, "u", "p")])
    assert url.conf is conf


@pytest.mark.parametrize("given", [None, ""])
def test_parse_without_url_reads_transport_url_from_the_config_file(tmp_path, given):
    cfg = pytest.importorskip("oslo_config.cfg")
    path = tmp_path / "service.conf"
    path.write_text("[DEFAULT]\ntransport_url = rabbit://u:p@confhost:5673/cv\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])  # nothing registered yet, as in a service
    assert TransportURL.parse(conf, given) == TransportURL.parse("rabbit://u:p@confhost:5673/cv")
    assert TransportURL.parse(conf).hosts[0].hostname == "confhost"


def test_parse_registers_transport_url_on_the_conf_it_reads(conf):
    assert TransportURL.parse(conf) == TransportURL.parse("rabbit://")  # the default
    assert conf.transport_url == "rabbit://"


def test_parse_reads_a_mapping_conf():
    assert TransportURL.parse({"transport_url": "fake://h/v"}) == TransportURL(
        "fake", "v", [TransportHost("h")])


def test_constructor_takes_conf_first_as_oslo(conf):
    hosts = [TransportHost("h1", 5672, "u", "p"), TransportHost("h2")]
    url = TransportURL(conf, "rabbit", "vh", hosts, {"ssl": "1"})
    assert (url.conf, url.transport, url.virtual_host, url.hosts, url.query) == (
        conf, "rabbit", "vh", tuple(hosts), {"ssl": "1"})
    assert url == TransportURL(conf, transport="rabbit", virtual_host="vh", hosts=hosts)
    assert url == TransportURL("rabbit", "vh", hosts)  # conf may be left out


def test_constructor_keeps_this_librarys_earlier_order_without_conf():
    hosts = (TransportHost("h", 5672),)
    assert TransportURL("rabbit", hosts, "vh", {"x": "1"}) == TransportURL("rabbit", "vh", hosts)
    assert TransportURL("rabbit", hosts, "vh", {"x": "1"}).query == {"x": "1"}
    assert TransportURL("rabbit", [], None).hosts == ()


def test_constructor_refuses_hosts_that_are_not_transport_hosts():
    with pytest.raises(TypeError, match="TransportHost"):
        TransportURL(None, "rabbit", "vh", ["h1"])


def test_a_url_is_read_only():
    url = TransportURL.parse("rabbit://h/v")
    with pytest.raises(AttributeError):
        url.virtual_host = "w"


@pytest.mark.parametrize("url, text", [
    (TransportURL(None, "rabbit"), "rabbit:///"),
    (TransportURL(None, "rabbit", "/"), "rabbit:////"),
    (TransportURL(None, "rabbit", "/vh", [TransportHost("h")]), "rabbit://h//vh"),
    (TransportURL(None, "rabbit", "a/b", [TransportHost("h")]), "rabbit://h/a/b"),
    (TransportURL(None, "rabbit", None, [TransportHost("h", 5672, "u", "p@s")]),
     "rabbit://u:p%40s@h:5672/"),
    (TransportURL(None, "rabbit", None, [TransportHost("::1", 5672), TransportHost("h2")]),
     "rabbit://[::1]:5672,h2/"),
    (TransportURL(None, "rabbit", "v", [TransportHost("h")], {"a": "1,2"}),
     "rabbit://h/v?a=1%2C2"),
])
def test_str_is_oslos(url, text):
    assert str(url) == text
