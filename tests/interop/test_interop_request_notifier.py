"""notify.middleware.RequestNotifier: the same notifications as oslo's for the same request.

Each library's middleware wraps the same WSGI application and follows the
service's configuration (oslo.config's ``cfg.CONF``: ``messagingv2``, a
private topic, RabbitMQ); both get the same request. The raw
``http.request`` and ``http.response`` notifications captured on the broker
must agree: event type, priority, publisher and payload (the request's CGI
variables without the token, the response status and headers, or the
exception and its traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import pytest

pytestmark = pytest.mark.rabbit


def _environ(method: str = "GET") -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": "/v2/servers", "QUERY_STRING": "limit=1",
            "SERVER_NAME": "api.example", "SERVER_PORT": "8774", "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "", "HTTP_HOST": "api.example:8774", "HTTP_X_AUTH_TOKEN": "secret",
            "HTTP_ACCEPT": "application/json", "wsgi.url_scheme": "http",
            "wsgi.input": __import__("io").BytesIO(b""), "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False}


def _ok_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Compute-Id", "c1"),
                              ("Content-Length", "2")])
    return [b"{}"]


def _failing_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("database gone")


def _run(middleware: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    body = middleware(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        return status[-1], b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def _notifications(grab: Any, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        msg = grab()
        inner = json.loads(json.loads(msg.body)["oslo.message"])
        out.append({k: inner[k] for k in ("publisher_id", "event_type", "priority", "payload")})
    return out


@pytest.fixture
def service(oslo, oslo_conf, url, ours, topic, tmp_path, monkeypatch):
    """cfg.CONF is the service's configuration; returns the two middleware classes."""
    from oslo_config import cfg
    from oslo_messaging.notify import middleware as theirs

    from messaging.notify import middleware as mine

    path = tmp_path / "service.conf"
    path.write_text(f"[oslo_messaging_notifications]\ndriver = messagingv2\ntopics = {topic}\n"
                    f"transport_url = {url}\n")
    oslo_conf(["--config-file", str(path)])
    monkeypatch.setattr(cfg, "CONF", oslo_conf)
    return theirs.RequestNotifier, mine.RequestNotifier, url.replace("rabbit://", f"{ours}://")


def _both(service, capture, topic, app, environ_method="GET", expect=2, **options):
    theirs_cls, mine_cls, our_url = service
    grab = capture(f"{topic}.info")
    got = []
    for cls, extra in ((theirs_cls, {}), (mine_cls, {"url": our_url})):
        middleware = cls(app, publisher_id="nova-api", **options, **extra)
        try:
            try:
                result: Any = _run(middleware, _environ(environ_method))
            except Exception as exc:
                result = repr(exc)
            got.append((result, _notifications(grab, expect) if expect else []))
        finally:
            middleware.notifier.transport.cleanup()
    return got


def test_a_request_and_its_response_are_notified_as_oslo(service, capture, topic):
    (t_result, theirs), (m_result, mine) = _both(service, capture, topic, _ok_app,
                                                 service_name="compute")
    assert m_result == t_result == ("200 OK", b"{}")
    assert mine == theirs
    assert [n["event_type"] for n in mine] == ["http.request", "http.response"]
    request = mine[0]["payload"]["request"]
    assert "HTTP_X_AUTH_TOKEN" not in request and request["HTTP_X_SERVICE_NAME"] == "compute"
    assert mine[1]["payload"]["response"]["headers"]["X-Compute-Id"] == "c1"


def test_the_service_name_defaults_to_the_host_as_oslo(service, capture, topic):
    (_, theirs), (_, mine) = _both(service, capture, topic, _ok_app)
    assert mine == theirs
    assert mine[0]["payload"]["request"]["HTTP_X_SERVICE_NAME"] == "api.example:8774"


def test_an_application_error_is_notified_and_raised_as_oslo(service, capture, topic):
    (t_result, theirs), (m_result, mine) = _both(service, capture, topic, _failing_app)
    assert m_result == t_result == "RuntimeError('database gone')"
    t_exc, m_exc = (n[1]["payload"].pop("exception") for n in (theirs, mine))
    assert m_exc["value"] == t_exc["value"] == "RuntimeError('database gone')"
    assert m_exc["traceback"][-1] == t_exc["traceback"][-1]  # the application's frame
    assert mine == theirs
    assert "response" not in mine[1]["payload"]


def test_a_head_request_is_notified_and_answered_without_a_body_as_oslo(
        service, capture, topic):
    (t_result, theirs), (m_result, mine) = _both(service, capture, topic, _ok_app,
                                                 environ_method="HEAD")
    assert m_result == t_result == ("200 OK", b"")
    assert mine == theirs


def test_ignored_methods_send_nothing_as_oslo(service, capture, topic):
    got = _both(service, capture, topic, _ok_app, environ_method="HEAD", expect=0,
                ignore_req_list="GET, head")
    # a HEAD request gets no body, through either (oslo's webob drops it)
    assert [result for result, _ in got] == [("200 OK", b"")] * 2
    # nothing was queued for either: a GET afterwards is the first thing there
    (_, theirs), (_, mine) = _both(service, capture, topic, _ok_app)
    assert mine[0]["event_type"] == theirs[0]["event_type"] == "http.request"
