"""Failures travel as JSON and are rebuilt only for allowed modules."""

from __future__ import annotations

import json

import pytest

from messaging import MessagingTimeout, NoSuchMethod, RemoteError, UnsupportedVersion
from messaging.remote import deserialize_exception, serialize_exception


class LocalError(Exception):
    def __init__(self, message, code=None):
        super().__init__(message)
        self.kwargs = {"code": code}


def _raised(exc):
    try:
        raise exc
    except Exception as caught:
        return caught


def test_serialized_failure_is_json_with_oslo_keys():
    data = serialize_exception(_raised(ValueError("bad value", 42)))
    assert json.loads(json.dumps(data)) == data
    assert data["class"] == "ValueError" and data["module"] == "builtins"
    assert data["args"] == ["bad value", 42] and data["kwargs"] == {}
    assert data["message"] == "('bad value', 42)"
    assert data["tb"][0].startswith("Traceback") and data["tb"][-1].startswith("ValueError")


def test_builtin_is_rebuilt_with_args_and_traceback():
    exc = deserialize_exception(serialize_exception(_raised(ValueError("bad value", 42))))
    assert type(exc) is ValueError and exc.args == ("bad value", 42)
    assert "Traceback" in exc.remote_traceback  # type: ignore[attr-defined]


def test_unlisted_module_becomes_remote_error():
    data = serialize_exception(_raised(LocalError("nope", code=3)))
    exc = deserialize_exception(data)
    assert isinstance(exc, RemoteError)
    assert exc.exc_type == "LocalError" and exc.value == "nope"
    assert "Traceback" in (exc.traceback or "")


def test_allowed_module_is_rebuilt_with_kwargs():
    data = serialize_exception(_raised(LocalError("nope", code=3)))
    exc = deserialize_exception(data, allowed_modules=[__name__])
    assert type(exc) is LocalError and exc.kwargs == {"code": 3}


@pytest.mark.parametrize("original", [NoSuchMethod("frob"),
                                      UnsupportedVersion("2.0", method="frob"),
                                      MessagingTimeout("inner call timed out")])
def test_our_exceptions_come_back_typed_and_as_remote_error(original):
    exc = deserialize_exception(serialize_exception(_raised(original)))
    assert isinstance(exc, type(original)) and isinstance(exc, RemoteError)
    assert exc.kwargs == original.kwargs
    assert exc.exc_type == type(original).__name__
    assert exc.value == str(original)
    assert "Traceback" in exc.traceback
    assert str(exc).startswith(f"Remote error: {type(original).__name__} {original}\n")


def test_a_remote_no_such_method_satisfies_both_except_clauses():
    data = serialize_exception(_raised(NoSuchMethod("frob")))
    with pytest.raises(RemoteError) as caught:
        raise deserialize_exception(data)
    assert caught.value.exc_type == "NoSuchMethod"
    with pytest.raises(NoSuchMethod) as typed:
        raise deserialize_exception(data)
    assert typed.value.method == "frob"


def test_re_raising_a_remote_error_of_ours_sends_the_original_class():
    once = deserialize_exception(serialize_exception(_raised(NoSuchMethod("frob"))))
    again = serialize_exception(_raised(once))
    assert (again["class"], again["module"], again["kwargs"]) == (
        "NoSuchMethod", "messaging.exceptions", {"method": "frob"})


def test_oslo_module_names_map_to_ours():
    # What an oslo.messaging server sends: the message as the only argument, no kwargs.
    message = "Endpoint does not support RPC method frob"
    data = {"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher",
            "message": message, "tb": [], "args": [message], "kwargs": {}}
    exc = deserialize_exception(data)
    assert isinstance(exc, NoSuchMethod) and exc.method == "frob"
    assert isinstance(exc, RemoteError) and exc.exc_type == "NoSuchMethod"


def test_oslo_unsupported_version_arguments_are_read_back():
    message = "Endpoint does not support RPC version 2.0. Attempted method: ping"
    data = {"class": "UnsupportedVersion", "module": "oslo_messaging.rpc.dispatcher",
            "message": message, "tb": [], "args": [message], "kwargs": {}}
    exc = deserialize_exception(data)
    assert isinstance(exc, UnsupportedVersion)
    assert (exc.version, exc.method) == ("2.0", "ping")


def test_rpc_module_paths_of_remote_error_as_oslo():
    import messaging.rpc
    import messaging.rpc.client

    assert messaging.rpc.RemoteError is RemoteError
    assert messaging.rpc.client.RemoteError is RemoteError


def test_oslo_remote_suffix_is_stripped():
    data = {"class": "ValueError_Remote", "module": "builtins_Remote", "message": "x",
            "tb": [], "args": ["x"], "kwargs": {}}
    assert type(deserialize_exception(data)) is ValueError


@pytest.mark.parametrize("data", [
    {"class": "system", "module": "os", "message": "x", "args": ["echo hi"]},
    {"class": "Popen", "module": "subprocess", "message": "x", "args": [["true"]]},
    {"class": "dumps", "module": "builtins", "message": "x"},
    {"class": "print", "module": "builtins", "message": "x"},
])
def test_nothing_outside_the_allow_list_is_touched(data):
    assert isinstance(deserialize_exception(data), RemoteError)


def test_non_exception_in_allowed_module_is_refused():
    data = {"class": "dict", "module": "builtins", "message": "x", "args": [], "kwargs": {}}
    assert isinstance(deserialize_exception(data), RemoteError)


def test_bad_constructor_arguments_fall_back_to_remote_error():
    data = {"class": "UnicodeDecodeError", "module": "builtins", "message": "x",
            "args": ["only one"], "kwargs": {}}
    assert isinstance(deserialize_exception(data), RemoteError)


def test_garbage_failure_is_remote_error():
    assert isinstance(deserialize_exception("not json"), RemoteError)
    assert isinstance(deserialize_exception('["list"]'), RemoteError)


def test_unjsonable_args_are_stringified():
    data = serialize_exception(_raised(ValueError(object())))
    json.dumps(data)
    assert data["args"][0].startswith("<object object")
