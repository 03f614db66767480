"""``TransportURL.parse`` reads every URL as the installed oslo.messaging 18.x does.

Both libraries parse the same strings; the transport, virtual host, hosts
(name, port, user, password), query and ``str()`` must be equal. Where oslo
refuses a URL (a bare ``ValueError`` or its ``InvalidTransportURL``) ours
raises ``InvalidTransportURL``, which is a ``ValueError`` too, so an oslo-era
``except`` clause still catches it. :data:`REFUSED_HERE` lists the URLs oslo
accepts and ours refuses on purpose, with the reason (the migration page
says it too).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import messaging

URLS = [
    # hosts and virtual hosts
    "rabbit://", "rabbit:///", "rabbit://h", "rabbit://h/", "rabbit://h/vh", "rabbit://h//vh",
    "rabbit://h//", "rabbit://h/a/b", "rabbit://h/v%2Fx", "rabbit://h/v%20x", "rabbit://h/%",
    "rabbit://h:5672/", "rabbit://H/", "RABBIT://h/", "rabbit://h%41/", "kombu+rabbit://h/",
    "pika://h/", "rabbit:h", "rabbit:/h", "fake:", "fake:/", "fake://",
    # credentials
    "rabbit://u:p@h:5672/v", "rabbit://u@h/", "rabbit://u:@h/", "rabbit://:p@h/",
    "rabbit://u:p%40x@h/", "rabbit://u%3Ax:p@h/", "rabbit://u:p:q@h/", "rabbit://u@x:p@h/",
    "rabbit://u:p@/", "rabbit://u:p@:5672/",
    # host lists, empty ones included
    "rabbit://h1,h2:5673/", "rabbit://h1,,h2/", "rabbit://,/", "rabbit://,", "rabbit://u:p@h1,h2/",
    "rabbit://u:p@h1:1,u2:p2@h2:2/vh?x=1",
    # IPv6
    "rabbit://[::1]/", "rabbit://[::1]:5672/", "rabbit://u:p@[::1]:5672,[fe80::1%eth0]:1/",
    "rabbit://::1/", "rabbit://fe80::1:5672/", "rabbit://[::1/", "rabbit://::1]/",
    # the query: repeated keys, empty values, keys without '=', percent-encoding
    "rabbit://h/?a=1", "rabbit://h/?a=1&b=", "rabbit://h/?b=&a=1", "rabbit://h/?a=1&b",
    "rabbit://h/?a", "rabbit://h/?a=1&a=2", "rabbit://h/?a=1&a=&a=2", "rabbit://h/?ssl=1&ssl=0",
    "rabbit://h/?=x", "rabbit://h/?=&&", "rabbit://h/?a=b=c", "rabbit://h/?a=%20x",
    "rabbit://h/?a=x+y", "rabbit://h/?a%3D=1", "rabbit://h/?a=1;b=2", "rabbit://h/?&&a=1&",
    "rabbit://h/?a=1&&b=2", "rabbit://h/?", "rabbit://h?a=1", "rabbit://?a=1", "rabbit:///?a=1",
    "rabbit://h/v?a=1?b=2", "rabbit://h/v?a=%E2%82%AC", "rabbit://h/?a=%", "rabbit://h/?a=%zz",
    "rabbit://u:p@h/v?k=v&k=w&x=", "rabbit://h/v?a=1#frag", "rabbit://h/v#f?a=1",
    # refused by both
    "rabbit://h:/", "rabbit://h:abc/", "//h/", "h", "1abc://h/", "a_b://h/",
]

#: URLs oslo.messaging accepts and this library refuses, with why.
REFUSED_HERE: dict[str, str] = {
    "rabbit://h:70000/": "a port outside 1-65535: no client can connect to it",
    "rabbit://[::1]x/": "text after an IPv6 address's ']' that oslo silently drops",
    "rabbit://h:1:2/": "several ':' in a name that is not an IPv6 address: a typo, not a host",
}


def _parsed(parse: Any, url: str) -> Any:
    """What a parse gives, comparable across the libraries; ``ValueError`` if refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = parse(url)
    except ValueError:
        return ValueError
    except Exception as exc:  # oslo's InvalidTransportURL is not a ValueError
        if type(exc).__name__ == "InvalidTransportURL":
            return ValueError
        raise
    hosts = [(h.hostname, h.port, h.username, h.password) for h in got.hosts]
    return (got.transport, got.virtual_host, hosts, dict(got.query), str(got))


@pytest.fixture(scope="module")
def oslo_parse(oslo: Any) -> Any:
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    return lambda url: oslo.TransportURL.parse(conf, url)


@pytest.mark.parametrize("url", URLS)
def test_parse_gives_oslos_result(oslo_parse, url):
    assert _parsed(lambda u: messaging.TransportURL.parse(None, u), url) == _parsed(oslo_parse,
                                                                                    url)


@pytest.mark.parametrize("url", sorted(REFUSED_HERE))
def test_urls_refused_on_purpose_are_still_accepted_by_oslo(oslo_parse, url):
    assert _parsed(oslo_parse, url) is not ValueError
    with pytest.raises(messaging.InvalidTransportURL):
        messaging.TransportURL.parse(None, url)


def test_our_refusals_are_caught_as_oslos_are(oslo_parse):
    """``except ValueError`` around oslo's parse of a bad port catches ours too."""
    with pytest.raises(ValueError):
        oslo_parse("rabbit://h:abc/")
    with pytest.raises(ValueError):
        messaging.TransportURL.parse(None, "rabbit://h:abc/")


def test_a_constructed_url_prints_as_oslos(oslo):
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    cases = [("rabbit", "v", [("::1", 5672, "u", "p@s"), ("h", None, None, None)], {"a": "1,2"}),
             ("rabbit", "/vh", [], {}),
             ("rabbit", None, [("a:b", None, None, None)], {}),  # not IPv6: no brackets
             ("rabbit", "", [("fe80::1%eth0", 1, None, "p")], {"x": "a b"})]
    for transport, vhost, hosts, query in cases:
        theirs = oslo.TransportURL(conf, transport, vhost,
                                   [oslo.TransportHost(*h) for h in hosts], query)
        ours = messaging.TransportURL(conf, transport, vhost,
                                      [messaging.TransportHost(*h) for h in hosts], query)
        assert str(ours) == str(theirs)
