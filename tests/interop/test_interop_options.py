"""The options oslo.messaging offers exist here too, with its defaults and shapes.

A service's configuration file written for oslo.messaging must keep working:
every option of ``oslo_messaging.opts.list_opts()`` is listed by
``messaging.opts.list_opts()`` (the generator namespace ``oslo.messaging``)
with the same default, and a repeatable option stays repeatable, unless
:data:`OMITTED` says why not.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

#: ``(group, option)`` -> why this library does not offer it.
OMITTED: dict[tuple[str, str], str] = {
    ("oslo_messaging_rabbit", "ssl_enforce_hostname_verification"):
        "deprecated in oslo.messaging; here the broker's certificate is checked (against "
        "the URL's host name) whenever ssl_ca_file is set",
    **{("oslo_messaging_kafka", name): "no Kafka driver" for name in (
        "compression_codec", "consumer_group", "enable_auto_commit", "kafka_consumer_timeout",
        "kafka_max_fetch_bytes", "max_poll_records", "producer_batch_size",
        "producer_batch_timeout", "sasl_mechanism", "security_protocol", "ssl_cafile",
        "ssl_client_cert_file", "ssl_client_key_file", "ssl_client_key_password")},
}


def _by_name(listing: list[tuple[Any, list[Any]]]) -> dict[tuple[str, str], Any]:
    return {(group or "DEFAULT", opt.name): opt for group, opts in listing for opt in opts}


@pytest.fixture(scope="module")
def both(oslo: Any) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], Any]]:
    from oslo_messaging import opts as oslo_opts

    from messaging import opts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _by_name(oslo_opts.list_opts()), _by_name(opts.list_opts())


def test_every_oslo_option_is_offered(both):
    theirs, ours = both
    missing = sorted(key for key in theirs if key not in ours and key not in OMITTED)
    assert missing == []


def test_the_omissions_are_still_missing(both):
    theirs, ours = both
    assert [key for key in OMITTED if key in ours or key not in theirs] == []


def test_defaults_and_repeatable_options_match(both):
    from oslo_config import cfg

    theirs, ours = both
    differences = []
    for key, opt in theirs.items():
        if key not in ours:
            continue
        mine = ours[key]
        if opt.default != mine.default:
            differences.append(f"{key}: default {opt.default!r}, ours {mine.default!r}")
        if isinstance(opt, cfg.MultiOpt) != isinstance(mine, cfg.MultiOpt):
            differences.append(f"{key}: repeatable {isinstance(opt, cfg.MultiOpt)}, ours "
                               f"{isinstance(mine, cfg.MultiOpt)}")
    assert differences == []
