"""OpenTelemetry spans for sends and receipts, continuing traces across services.

Turned on by oslo.messaging 18.3's options (``[oslo_messaging_tracing]
tracing_enabled = true``), so a service's existing configuration works
unchanged. Needs ``opentelemetry-api`` (``pip install 'messaging[tracing]'``);
the core imports and runs without it, and nothing here costs anything while
tracing is off (the transport then has no :class:`Tracing` at all).

Where the spans go: the TracerProvider the application installed
(``opentelemetry.trace.set_tracer_provider``), never replaced. When the
application installed none, spans are exported over OTLP as oslo.messaging
does (``otel_exporter_otlp_endpoint``, ``otlp_protocol``, ``insecure``,
``tracing_service_name``), by a provider private to this library, so an
application that installs its own later is not refused.

What travels: the W3C trace context, injected with the application's
propagator into the request or notification *context*, where oslo.messaging
18.3 puts it (``traceparent``, on the wire ``_context_traceparent``), so a
trace crosses between this library and oslo.messaging in both directions.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Mapping
from typing import Any

from . import options as _options
from .exceptions import MessagingException
from .options import Option

__all__ = ["GROUP", "TRACING_OPTIONS", "Tracing", "TracingUnavailable", "tracing_options"]

GROUP = "oslo_messaging_tracing"

#: oslo.messaging 18.3's ``[oslo_messaging_tracing]`` options: names, defaults, choices.
TRACING_OPTIONS: tuple[Option, ...] = (
    Option("tracing_enabled", bool, False,
           "Trace every call, cast, fanout and notification with OpenTelemetry (needs "
           "opentelemetry-api: pip install 'messaging[tracing]'). Spans go to the "
           "application's TracerProvider, or over OTLP when it installed none."),
    Option("tracing_service_name", str, "openstack",
           "service.name of the spans exported over OTLP (only when the application "
           "installed no TracerProvider)."),
    Option("otel_exporter_otlp_endpoint", str, "http://localhost:4318",
           "OTLP endpoint spans are exported to when the application installed no "
           "TracerProvider; over HTTP they go to <endpoint>/v1/traces."),
    Option("otlp_protocol", str, "http/protobuf",
           "OTLP protocol: http/protobuf (pip install 'messaging[tracing-http]') or grpc "
           "(pip install 'messaging[tracing-grpc]').", choices=("http/protobuf", "grpc")),
    Option("insecure", bool, False,
           "Do not use TLS towards a gRPC OTLP endpoint (grpc protocol only)."),
)

_options.OPTION_GROUPS[GROUP] = TRACING_OPTIONS

#: The instrumentation scope our spans are created under.
SCOPE = "messaging"

_EXPORTER_MODULES = {
    "http/protobuf": ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "tracing-http"),
    "grpc": ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "tracing-grpc"),
}


class TracingUnavailable(MessagingException, RuntimeError):
    """Tracing is enabled but the packages it needs are not installed."""


def tracing_options(conf: Any) -> dict[str, Any]:
    """The ``[oslo_messaging_tracing]`` values of ``conf`` (ConfigOpts, mapping or None)."""
    return _options.resolve_options(conf, GROUP, TRACING_OPTIONS)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class _PrivateProviders:
    """OTLP-exporting TracerProviders made for applications that installed none, one per setting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[Any, ...], Any] = {}

    def get(self, options: Mapping[str, Any]) -> Any:
        key = (options["tracing_service_name"], options["otel_exporter_otlp_endpoint"],
               options["otlp_protocol"], options["insecure"])
        with self._lock:
            provider = self._made.get(key)
            if provider is None:
                provider = self._made[key] = _otlp_provider(options)
            return provider


_PRIVATE = _PrivateProviders()


def _otlp_provider(options: Mapping[str, Any]) -> Any:
    """A TracerProvider exporting in batches over OTLP, as oslo.messaging sets one up."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = str(options["otel_exporter_otlp_endpoint"])
    if options["otlp_protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )
        exporter: Any = GrpcExporter(endpoint=endpoint, insecure=bool(options["insecure"]))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )
        exporter = HttpExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider = TracerProvider(resource=Resource.create(
        {"service.name": options["tracing_service_name"]}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class Tracing:
    """Producer and consumer spans for one transport (built only when tracing is enabled).

    :param options: the ``[oslo_messaging_tracing]`` values.
    :param system: ``messaging.system`` of the spans (``rabbitmq``, ``zeromq``...).
    :raises TracingUnavailable: opentelemetry-api is missing, or the application
        installed no TracerProvider and the OTLP exporter for ``otlp_protocol``
        is missing.
    """

    def __init__(self, options: Mapping[str, Any], system: str) -> None:
        try:
            from opentelemetry import propagate, trace
        except ImportError:
            raise TracingUnavailable(
                "[oslo_messaging_tracing] tracing_enabled is set but opentelemetry-api is "
                "not installed: pip install 'messaging[tracing]'") from None
        self._trace = trace
        self._propagate = propagate
        self._options = dict(options)
        self.system = system
        #: (provider, its tracer): a provider makes a new tracer on every get_tracer
        self._cached: tuple[Any, Any] | None = None
        self._producer = trace.SpanKind.PRODUCER
        self._consumer = trace.SpanKind.CONSUMER
        self._error = trace.StatusCode.ERROR
        if not self._application_provider():
            module, extra = _EXPORTER_MODULES[str(self._options["otlp_protocol"])]
            if not (_installed("opentelemetry.sdk.trace") and _installed(module)):
                raise TracingUnavailable(
                    f"[oslo_messaging_tracing] tracing_enabled is set and the application "
                    f"installed no TracerProvider, so spans would be exported over OTLP "
                    f"({self._options['otlp_protocol']}), but the exporter is not installed: "
                    f"pip install 'messaging[{extra}]', or install a TracerProvider before "
                    f"creating the transport")

    def _application_provider(self) -> Any:
        """The TracerProvider the application installed, or None."""
        provider = self._trace.get_tracer_provider()
        return None if isinstance(provider, self._trace.ProxyTracerProvider) else provider

    def _tracer(self) -> Any:
        provider = self._application_provider() or _PRIVATE.get(self._options)
        cached = self._cached
        if cached is not None and cached[0] is provider:
            return cached[1]
        tracer = provider.get_tracer(SCOPE)
        self._cached = (provider, tracer)
        return tracer

    def _describe(self, kind: str, operation: str, destination: str, method: str | None,
                  namespace: str | None, message_id: str | None, request_id: Any,
                  ) -> tuple[str, dict[str, Any]]:
        """A span's name (``<operation> <destination>[.<method>]``) and its attributes."""
        attributes: dict[str, Any] = {
            "messaging.system": self.system,
            "messaging.operation.type": kind,
            "messaging.operation.name": operation,
            "messaging.destination.name": destination,
        }
        if method:
            attributes["rpc.method"] = method
        if namespace:
            attributes["rpc.service"] = namespace
        if message_id:
            attributes["messaging.message.id"] = message_id
        if isinstance(request_id, str) and request_id:
            attributes["openstack.request_id"] = request_id
        name = f"{operation} {destination}.{method}" if method else f"{operation} {destination}"
        return name, attributes

    # -- producers -------------------------------------------------------------------------

    def start_send(self, operation: str, destination: str, method: str | None,
                   namespace: str | None, message_id: str | None, request_id: Any) -> Any:
        """Start (not make current) the producer span of one send, child of the current span.

        ``operation`` is ``call``, ``cast``, ``fanout`` or ``notify``.
        """
        name, attributes = self._describe("send", operation, destination, method, namespace,
                                          message_id, request_id)
        return self._tracer().start_span(name, kind=self._producer, attributes=attributes)

    def inject(self, span: Any, ctxt: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``ctxt`` carrying ``span``'s W3C trace context (``traceparent``...)."""
        carrier = dict(ctxt)
        self._propagate.inject(carrier, context=self._trace.set_span_in_context(span))
        return carrier

    # -- consumers -------------------------------------------------------------------------

    def start_receive(self, ctxt: Any, destination: str, method: str | None,
                      namespace: str | None, message_id: str | None) -> Any:
        """Start the consumer span of one received message, continuing the sender's trace."""
        carrier = ctxt if isinstance(ctxt, Mapping) else {}
        parent = self._propagate.extract(carrier)
        name, attributes = self._describe("process", "process", destination, method, namespace,
                                          message_id, carrier.get("request_id"))
        return self._tracer().start_span(name, context=parent, kind=self._consumer,
                                         attributes=attributes)

    def start_batch(self, ctxts: list[Any], destination: str, method: str | None) -> Any:
        """The consumer span of a batch: a new trace, linked to every sender's span."""
        links = []
        for ctxt in ctxts:
            parent = self._propagate.extract(ctxt if isinstance(ctxt, Mapping) else {})
            sender = self._trace.get_current_span(parent).get_span_context()
            if sender.is_valid:
                links.append(self._trace.Link(sender))
        name, attributes = self._describe("process", "process", destination, method, None,
                                          None, None)
        attributes["messaging.batch.message_count"] = len(ctxts)
        return self._tracer().start_span(name, kind=self._consumer, links=links,
                                         attributes=attributes)

    def current(self, span: Any) -> Any:
        """A context manager making ``span`` the current one (without ending it)."""
        return self._trace.use_span(span, end_on_exit=False, record_exception=False,
                                    set_status_on_exception=False)

    # -- outcomes --------------------------------------------------------------------------

    def failed(self, span: Any, error: BaseException | str, error_type: str | None = None,
               ) -> None:
        """Mark ``span`` failed: status ERROR, ``error.type``, the exception recorded."""
        if isinstance(error, BaseException):
            kind = error_type or type(error).__name__
            span.record_exception(error)
            span.set_status(self._error, f"{kind}: {error}")
        else:
            kind = error_type or "error"
            span.set_status(self._error, error)
        span.set_attribute("error.type", kind)
