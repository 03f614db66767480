"""The exceptions' texts are oslo.messaging's for the same arguments.

Services' tests compare ``str(exc)``; the library's exceptions built with
oslo's constructor arguments must read the same. (Exceptions built with no
message, and ``MessageUndeliverable``, are not compared: see the migration
page.)
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import messaging


def _cases(lib: Any) -> dict[str, Any]:
    target = lib.Target(topic="t", server="s")
    boom = ValueError("boom")
    return {
        "ClientSendError": lambda: lib.ClientSendError(target, boom),
        "ServerListenError": lambda: lib.ServerListenError(target, boom),
        "ExecutorLoadFailure": lambda: lib.ExecutorLoadFailure("green", boom),
        "DriverLoadFailure": lambda: lib.DriverLoadFailure("rabit", boom),
        "InvalidTarget": lambda: lib.InvalidTarget("A server is required", target),
        "RPCVersionCapError": lambda: lib.RPCVersionCapError("1.2", "1.1"),
        "NoSuchMethod": lambda: lib.NoSuchMethod("reboot"),
        "UnsupportedVersion": lambda: lib.UnsupportedVersion("2.0", method="reboot"),
        "RemoteError": lambda: lib.RemoteError("ValueError", "bad", "Traceback..."),
        "InvalidTransportURL": lambda: lib.InvalidTransportURL("x://", "No scheme specified"),
        "MessagingTimeout": lambda: lib.MessagingTimeout("Timed out waiting for a reply"),
    }


@pytest.mark.parametrize("name", sorted(_cases(messaging)))
def test_the_text_is_oslos(oslo, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = str(_cases(oslo)[name]())
    assert str(_cases(messaging)[name]()) == theirs
