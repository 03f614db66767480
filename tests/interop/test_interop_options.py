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


#: Options oslo.messaging types as integers and this library as floats, with why.
FLOAT_HERE: dict[tuple[str, str], str] = {
    ("DEFAULT", "rpc_response_timeout"): "a call may wait a fraction of a second (tests: 0.5)",
    **{("oslo_messaging_rabbit", name): "reconnect pacing in fractions of a second" for name in (
        "kombu_missing_consumer_retry_timeout", "rabbit_interval_max", "rabbit_retry_backoff",
        "rabbit_retry_interval")},
}


def test_types_match_but_for_the_documented_floats(both):
    """Same type for every shared option; the five floats read oslo's integer values."""
    from oslo_config import types

    theirs, ours = both
    differences = {key: (type(opt.type).__name__, type(ours[key].type).__name__)
                   for key, opt in theirs.items()
                   if key in ours and type(opt.type) is not type(ours[key].type)}
    assert differences == dict.fromkeys(FLOAT_HERE, ("Integer", "Float"))
    for key in FLOAT_HERE:
        assert isinstance(theirs[key].type, types.Integer)
        # whatever oslo's type accepts, ours reads as the same number
        for text in ("0", "1", "30", str(theirs[key].default)):
            try:
                value = theirs[key].type(text)
            except ValueError:  # below oslo's minimum
                continue
            assert ours[key].type(text) == value
