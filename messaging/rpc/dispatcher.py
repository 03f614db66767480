"""The RPC dispatcher: find the endpoint method a request names and run it.

An endpoint answers a request if its ``target`` namespace matches, its
version is compatible and the access policy allows the method. If some
endpoint matched namespace and version but none has the method, the caller
gets :class:`NoSuchMethod`; if none matched, :class:`UnsupportedVersion`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..driver import IncomingMessage, Listener, Reply, RpcIncomingMessage
from ..exceptions import ExpectedException, NoSuchMethod, RPCDispatcherError, UnsupportedVersion
from ..remote import serialize_exception
from ..serializer import NoOpSerializer, Serializer
from ..server import Dispatcher
from ..steps import Step, Steps, is_async_callable, run_steps
from ..target import Target
from ..versions import version_is_compatible
from .policy import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
)

if TYPE_CHECKING:
    from ..instrument import Receipt
    from ..transport import Transport

__all__ = ["RPCDispatcher", "expected_exceptions",
           # oslo's rpc.dispatcher names, re-exported
           "DefaultRPCAccessPolicy", "ExpectedException", "ExplicitRPCAccessPolicy",
           "LegacyRPCAccessPolicy", "NoSuchMethod", "RPCAccessPolicyBase", "RPCDispatcherError",
           "UnsupportedVersion"]

LOG = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
_DEFAULT_VERSION = "1.0"
_NO_TARGET = Target()  # an endpoint without a target: the default namespace, version 1.0


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Declare exceptions an endpoint method raises on purpose.

    The server logs them at debug level instead of as errors; the caller
    still receives the original exception. Works on ``async def`` methods too.
    """
    def decorator(func: F) -> F:
        if is_async_callable(func):
            @functools.wraps(func)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                with _expecting(exceptions):
                    return await func(*args, **kwargs)
            return async_inner  # type: ignore[return-value]

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with _expecting(exceptions):
                return func(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return decorator


@contextlib.contextmanager
def _expecting(exceptions: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Re-raise ``exceptions`` as :class:`ExpectedException` (the original as its cause)."""
    try:
        yield
    except ExpectedException:
        raise
    except exceptions as exc:
        raise ExpectedException() from exc


class RPCDispatcher(Dispatcher):
    """Routes requests to endpoints; used by :func:`messaging.get_rpc_server`."""

    kind = "rpc"

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None,
                 access_policy: type[RPCAccessPolicyBase] | None = None,
                 target: Target | None = None) -> None:
        self.endpoints = tuple(endpoints)
        for endpoint in self.endpoints:
            t = getattr(endpoint, "target", None)
            if t is not None and not isinstance(t, Target):
                raise TypeError(f"endpoint {endpoint!r} has a target that is not a Target")
        self.serializer = serializer or NoOpSerializer()
        policy_cls = access_policy or DefaultRPCAccessPolicy
        if not (isinstance(policy_cls, type) and issubclass(policy_cls, RPCAccessPolicyBase)):
            raise TypeError("access_policy must be a subclass of RPCAccessPolicyBase")
        self.access_policy = policy_cls()
        self.target = target

    def listen(self, transport: Transport) -> Listener:
        if self.target is None:
            raise ValueError("RPCDispatcher needs a target to listen on")
        return transport.listen(self.target)

    def _find(self, method: str, namespace: str | None, version: str) -> Callable[..., Any]:
        compatible = False
        for endpoint in self.endpoints:
            target = getattr(endpoint, "target", None) or _NO_TARGET
            if namespace not in target.accepted_namespaces:
                continue
            if not version_is_compatible(target.version or _DEFAULT_VERSION, version):
                continue
            compatible = True
            func = getattr(endpoint, method, None)
            if callable(func) and self.access_policy.is_allowed(endpoint, method):
                return cast("Callable[..., Any]", func)
        if compatible:
            raise NoSuchMethod(method)
        raise UnsupportedVersion(version, method=method)

    def _bind(self, incoming: Any) -> tuple[Callable[..., Any], Any, dict[str, Any]]:
        """The endpoint method a request names, with its deserialized context and arguments."""
        message = incoming.message
        method = message.get("method")
        if not isinstance(method, str):
            raise NoSuchMethod(str(method))
        func = self._find(method, message.get("namespace"),
                          message.get("version") or _DEFAULT_VERSION)
        ctxt = self.serializer.deserialize_context(incoming.ctxt)
        args = {k: self.serializer.deserialize_entity(ctxt, v)
                for k, v in (message.get("args") or {}).items()}
        return func, ctxt, args

    def _result_steps(self, incoming: Any, receipt: Receipt | None = None) -> Steps[Any]:
        """Run the endpoint method (one step) and return its serialized result."""
        func, ctxt, args = self._bind(incoming)
        step = Step(func, ctxt, **args)
        result = yield step if receipt is None else receipt.step(step)
        return self.serializer.serialize_entity(ctxt, result)

    def dispatch(self, incoming: Any) -> Any:
        """Run the method a request names and return its serialized result.

        ``incoming`` has ``ctxt`` and ``message`` (method, args, namespace,
        version). Raises :class:`NoSuchMethod` / :class:`UnsupportedVersion`
        or whatever the endpoint raises.
        """
        return run_steps(self._result_steps(incoming))

    def steps(self, incoming: list[IncomingMessage]) -> Steps[None]:
        """Acknowledge, run and answer each request (see :mod:`messaging.steps`)."""
        for message in incoming:
            yield from self._request_steps(message)

    def _request_steps(self, message: IncomingMessage) -> Steps[None]:
        # at-most-once: settled before running, as oslo
        if not (yield Step(_acknowledge, message)):
            return
        wants_reply = isinstance(message, RpcIncomingMessage) and message.wants_reply
        # A step, so that the asyncio executor starts its thread off the loop.
        monitor = (yield Step(_Heartbeat, message)) if wants_reply and getattr(
            message, "client_timeout", None) else None
        receipt = self._receipt(message, wants_reply)
        debug = LOG.isEnabledFor(logging.DEBUG)
        if debug:
            began = time.monotonic()
            LOG.debug("Request %s: running %r", _request_id(message),
                      message.message.get("method"))
        try:
            reply = Reply(result=(yield from self._result_steps(message, receipt)))
        except ExpectedException as exc:
            inner = exc.__cause__ or exc.exc_info[1] or exc
            LOG.debug("Expected exception during message handling: %s", inner)
            reply = Reply(failure=serialize_exception(inner))
            if receipt is not None:
                receipt.failed(inner)
        except (NoSuchMethod, UnsupportedVersion) as exc:
            LOG.log(logging.DEBUG if str(message.message.get("method", "")).endswith(
                "_ignore_errors") else logging.WARNING, "Refused request: %s", exc)
            reply = Reply(failure=serialize_exception(exc))
            if receipt is not None:
                receipt.failed(exc, "refused")
        except Exception as exc:
            LOG.exception("Exception during message handling")
            reply = Reply(failure=serialize_exception(exc))
            if receipt is not None:
                receipt.failed(exc)
        finally:
            if monitor is not None:
                monitor.stop()
        if debug:
            LOG.debug("Request %s: %s after %.3f s%s", _request_id(message),
                      "failed" if reply.failure is not None else "done",
                      time.monotonic() - began, "; replying" if wants_reply else "")
        if wants_reply:
            yield Step(_send_reply, message, reply)
        if receipt is not None:
            receipt.finish()

    def _receipt(self, message: IncomingMessage, wants_reply: bool) -> Receipt | None:
        """The span and metrics of one request, when the transport is instrumented."""
        inst = self.instrumentation
        if inst is None:
            return None
        body = message.message
        method = body.get("method")
        namespace = body.get("namespace")
        return inst.receive("call" if wants_reply else "cast",
                            (self.target.topic if self.target is not None else None) or "",
                            method if isinstance(method, str) else None, message.ctxt,
                            namespace=namespace if isinstance(namespace, str) else None,
                            message_id=getattr(message, "msg_id", None))


def _request_id(message: IncomingMessage) -> str:
    """A request's id for logs: the call's message id, else the unique id of a cast."""
    return str(getattr(message, "msg_id", None) or getattr(message, "unique_id", None)
               or "(no id)")


def _acknowledge(message: IncomingMessage) -> bool:
    try:
        message.acknowledge()
    except Exception:
        LOG.exception("Could not acknowledge a request; dropping it")
        return False
    return True


def _send_reply(message: IncomingMessage, reply: Reply) -> None:
    assert isinstance(message, RpcIncomingMessage)
    try:
        message.reply(reply)
    except Exception:
        LOG.exception("Could not send a reply")


class _Heartbeat:
    """Sends call-monitor heartbeats every ``client_timeout / 2`` seconds."""

    def __init__(self, message: Any) -> None:
        self._message = message
        self._done = threading.Event()
        self._interval = max(float(message.client_timeout) / 2.0, 0.05)
        self._thread = threading.Thread(target=self._run, name="messaging-call-monitor",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._message.heartbeat()
            except Exception:
                LOG.exception("Could not send a call-monitor heartbeat")

    def stop(self) -> None:
        self._done.set()


