"""``RequestNotifier``: WSGI middleware that sends a notification per HTTP request.

Each request sends ``http.request`` before the application runs and
``http.response`` after it answered (or raised), at INFO priority, with the
request's CGI variables (``HTTP_X_AUTH_TOKEN`` left out) and the response
status and headers, or the exception and its traceback; oslo.messaging's
payloads. In a paste.deploy pipeline::

    [filter:notifier]
    paste.filter_factory = messaging.notify.middleware:RequestNotifier.factory
    service_name = api
    ignore_req_list = GET, HEAD

Options (strings, as paste gives them): ``url`` (transport URL; default the
configuration's notification transport), ``publisher_id`` (default the
program name), ``service_name`` (default the request's host),
``ignore_req_list`` (HTTP methods that send nothing). The notifier follows
the service's ``[oslo_messaging_notifications]`` from the class attribute
``CONF``, else oslo.config's ``cfg.CONF``, as oslo.messaging's middleware.

Plain WSGI: neither webob nor oslo.middleware is needed. A failure to
notify is logged and never breaks the request.
"""

from __future__ import annotations

import functools
import logging
import os.path
import sys
import traceback as tb
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from ..transport import get_notification_transport
from .notifier import Notifier
from .options import service_conf

__all__ = ["RequestNotifier", "log_and_ignore_error"]

LOG = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def log_and_ignore_error(fn: F) -> F:
    """Decorate a notifying method so that its failure is logged, never raised."""
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            LOG.exception("An exception occurred processing the API call: %s", exc)
            return None
    return wrapped  # type: ignore[return-value]


class Request:
    """The request as the notifying methods see it (oslo passes a webob Request)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def host(self) -> str:
        """``Host`` header, else ``SERVER_NAME:SERVER_PORT``."""
        host = self.environ.get("HTTP_HOST")
        if host:
            return str(host)
        return f"{self.environ.get('SERVER_NAME', '')}:{self.environ.get('SERVER_PORT', '')}"


class Response:
    """The response status line and headers."""

    def __init__(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.headers = dict(headers)


class RequestNotifier:
    """WSGI middleware sending ``http.request`` and ``http.response`` notifications."""

    #: Configuration to follow; None means oslo.config's global ``cfg.CONF``.
    CONF: Any = None

    @classmethod
    def factory(cls, global_conf: Mapping[str, Any], **local_conf: Any,
                ) -> Callable[[WSGIApp], RequestNotifier]:
        """paste.deploy filter factory."""
        conf = dict(global_conf)
        conf.update(local_conf)

        def _factory(app: WSGIApp) -> RequestNotifier:
            return cls(app, **conf)
        return _factory

    def __init__(self, app: WSGIApp, **conf: Any) -> None:
        self.application = app
        transport = get_notification_transport(service_conf(None, self.CONF), conf.get("url"))
        self.notifier = Notifier(transport, publisher_id=conf.get(
            "publisher_id", os.path.basename(sys.argv[0])))
        self.service_name = conf.get("service_name")
        self.ignore_req_list = [x.upper().strip()
                                for x in str(conf.get("ignore_req_list", "")).split(",")]

    @staticmethod
    def environ_to_dict(environ: Mapping[str, Any]) -> dict[str, Any]:
        """The CGI variables (upper-case keys, PEP 3333), without ``HTTP_X_AUTH_TOKEN``."""
        return {k: v for k, v in environ.items() if k.isupper() and k != "HTTP_X_AUTH_TOKEN"}

    @log_and_ignore_error
    def process_request(self, request: Request) -> None:
        """Send ``http.request``."""
        request.environ["HTTP_X_SERVICE_NAME"] = self.service_name or request.host
        self.notifier.info({}, "http.request", {"request": self.environ_to_dict(request.environ)})

    @log_and_ignore_error
    def process_response(self, request: Request, response: Response | None,
                         exception: BaseException | None = None,
                         traceback: TracebackType | None = None) -> None:
        """Send ``http.response`` with the response, or the exception the application raised."""
        payload: dict[str, Any] = {"request": self.environ_to_dict(request.environ)}
        if response is not None:
            payload["response"] = {"status": response.status, "headers": response.headers}
        if exception is not None:
            payload["exception"] = {"value": repr(exception),
                                    "traceback": tb.format_tb(traceback)}
        self.notifier.info({}, "http.response", payload)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        request = Request(environ)
        if request.method in self.ignore_req_list:
            return _no_body_for_head(request, self.application(environ, start_response))
        self.process_request(request)
        started: list[Response] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append(Response(status, headers))
            return start_response(status, headers, exc_info) if exc_info is not None \
                else start_response(status, headers)

        try:
            body = self.application(environ, capture)
            first = _until_started(body, started)
        except Exception:
            _exc_type, value, traceback = sys.exc_info()
            self.process_response(request, None, value, traceback)
            raise
        self.process_response(request, started[-1] if started else None)
        return _no_body_for_head(request, first)


def _no_body_for_head(request: Request, body: Iterable[bytes]) -> Iterable[bytes]:
    """No body in the answer to a HEAD request, as oslo's (webob's) middleware.

    The application's body is not read, only closed.
    """
    if request.method != "HEAD":
        return body
    return _chain([], iter(()), body)


def _until_started(body: Iterable[bytes], started: list[Response]) -> Iterable[bytes]:
    """The body, having run the application until it called ``start_response``.

    An application may call it lazily, on its first chunk; the response is
    only known then (webob's ``get_response`` does the same).
    """
    if started:
        return body
    iterator = iter(body)
    buffered: list[bytes] = []
    for chunk in iterator:
        buffered.append(chunk)
        if started:
            break
    return _chain(buffered, iterator, body)


def _chain(buffered: list[bytes], rest: Iterator[bytes], body: Iterable[bytes],
           ) -> Iterator[bytes]:
    try:
        yield from buffered
        yield from rest
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
