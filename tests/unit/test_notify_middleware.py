"""``messaging.notify.middleware.RequestNotifier``: notifications for WSGI requests."""

from __future__ import annotations

import logging
import uuid
from wsgiref.util import setup_testing_defaults

import pytest

from messaging.notify.drivers import get_test_notifications, reset_test_notifications
from messaging.notify.middleware import RequestNotifier, log_and_ignore_error


class Notifying(RequestNotifier):
    CONF = {"oslo_messaging_notifications": {"driver": "test"}}


def _environ(method="GET", **extra):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/servers",
               "HTTP_X_AUTH_TOKEN": "secret-token", "HTTP_X_REQUEST_ID": "req-1"}
    environ.update(extra)
    setup_testing_defaults(environ)
    return environ


def _app(environ, start_response):
    start_response("202 Accepted", [("Content-Type", "text/plain"), ("X-Thing", "1")])
    return [b"ok"]


def _lazy_app(environ, start_response):
    start_response("201 Created", [("Content-Type", "text/plain")])
    yield b"made"


def _failing_app(environ, start_response):
    raise RuntimeError("app broke")


def _call(middleware, environ):
    status = []
    body = middleware(environ, lambda s, h, exc_info=None: status.append(s))
    return status, b"".join(body)


def _sent():
    return [(m["event_type"], p, m["payload"], m["publisher_id"])
            for _c, m, p, _r in get_test_notifications()]


@pytest.fixture(autouse=True)
def clean():
    reset_test_notifications()


@pytest.fixture
def url():
    return f"fake:///{uuid.uuid4().hex}"


@pytest.mark.parametrize("app", [_app, _lazy_app])
def test_request_and_response_are_notified(url, app):
    middleware = Notifying(app, url=url, publisher_id="api.host1", service_name="compute")
    status, body = _call(middleware, _environ())
    assert status and body in (b"ok", b"made")
    (req_event, req_prio, req, publisher), (resp_event, _p, resp, _pub) = _sent()
    assert (req_event, req_prio, publisher) == ("http.request", "INFO", "api.host1")
    assert resp_event == "http.response"
    for payload in (req, resp):
        assert payload["request"]["REQUEST_METHOD"] == "GET"
        assert payload["request"]["HTTP_X_REQUEST_ID"] == "req-1"
        assert payload["request"]["HTTP_X_SERVICE_NAME"] == "compute"
        assert "HTTP_X_AUTH_TOKEN" not in payload["request"]
        assert all(k.isupper() for k in payload["request"])
    assert resp["response"]["status"] == status[0]
    assert resp["response"]["headers"]["Content-Type"] == "text/plain"


def test_service_name_defaults_to_the_host(url):
    _call(Notifying(_app, url=url), _environ(HTTP_HOST="api.example:8774"))
    assert _sent()[0][2]["request"]["HTTP_X_SERVICE_NAME"] == "api.example:8774"


def test_ignored_methods_send_nothing(url):
    middleware = Notifying(_app, url=url, ignore_req_list="get, HEAD")
    assert _call(middleware, _environ("GET"))[1] == b"ok"
    assert _call(middleware, _environ("HEAD"))[1] == b""  # no body for HEAD, as oslo's
    assert _sent() == []
    _call(middleware, _environ("POST"))
    assert [e for e, *_ in _sent()] == ["http.request", "http.response"]


def test_a_head_request_is_answered_without_a_body_and_the_body_is_closed(url):
    closed = []

    class Body:
        def __iter__(self):
            raise AssertionError("the body of a HEAD answer is not read")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return Body()

    assert _call(Notifying(app, url=url), _environ("HEAD"))[1] == b""
    assert closed == [True]
    assert [e for e, *_ in _sent()] == ["http.request", "http.response"]


def test_an_exception_is_notified_and_raised(url):
    with pytest.raises(RuntimeError, match="app broke"):
        _call(Notifying(_failing_app, url=url), _environ())
    (_e1, _p1, _req, _), (event, _p, payload, _) = _sent()
    assert event == "http.response" and "response" not in payload
    assert payload["exception"]["value"] == "RuntimeError('app broke')"
    assert any("_failing_app" in line for line in payload["exception"]["traceback"])


def test_paste_factory(url):
    middleware = Notifying.factory({"publisher_id": "from.global"}, url=url,
                                   service_name="svc")(_app)
    assert isinstance(middleware, Notifying)
    _call(middleware, _environ())
    assert {p for *_x, p in _sent()} == {"from.global"}


def test_log_and_ignore_error_logs_and_swallows(caplog):
    @log_and_ignore_error
    def fails():
        raise ValueError("notify failed")

    with caplog.at_level(logging.ERROR, logger="messaging.notify.middleware"):
        assert fails() is None
    assert "notify failed" in caplog.text
