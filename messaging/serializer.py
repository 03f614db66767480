"""Serializers turn application objects into JSON-safe values and back.

A client serializes each argument and the context before sending; a server
deserializes them before calling the endpoint, and serializes the result.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from typing import Any

from .envelope import dumps

__all__ = ["Serializer", "NoOpSerializer", "JsonPayloadSerializer", "RequestContextSerializer"]


class Serializer(abc.ABC):
    """The four conversions a serializer provides."""

    @abc.abstractmethod
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Make ``entity`` JSON-safe for sending."""

    @abc.abstractmethod
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Rebuild an entity received from the bus."""

    @abc.abstractmethod
    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        """Turn a request context into a plain dict."""

    @abc.abstractmethod
    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        """Rebuild a request context from a plain dict."""


class NoOpSerializer(Serializer):
    """Passes entities through; contexts become plain dicts."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return _context_dict(ctxt)

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        return ctxt


class JsonPayloadSerializer(NoOpSerializer):
    """Converts entities to JSON primitives (datetimes, sets, objects with ``to_dict``)."""

    @staticmethod
    def serialize_entity(context: Any, entity: Any) -> Any:
        """A static method, as oslo's (``JsonPayloadSerializer.serialize_entity(ctxt, x)``)."""
        return json.loads(dumps(entity))


class RequestContextSerializer(Serializer):
    """Wraps a base serializer and converts context objects.

    Contexts with ``to_dict()`` are sent as that dict; received ones are
    rebuilt with ``context_class.from_dict`` when a class is given (for
    example ``oslo_context.context.RequestContext``).
    """

    def __init__(self, base: Serializer | None = None, context_class: Any = None) -> None:
        self._base = base or NoOpSerializer()
        self._context_class = context_class

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return _context_dict(ctxt)

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        if self._context_class is not None:
            return self._context_class.from_dict(ctxt)
        return ctxt


def _context_dict(ctxt: Any) -> dict[str, Any]:
    if ctxt is None:
        return {}
    if isinstance(ctxt, Mapping):
        return dict(ctxt)
    to_dict = getattr(ctxt, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"A context must be a mapping or have to_dict(), not {type(ctxt).__name__}")
