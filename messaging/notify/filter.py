"""NotificationFilter: let an endpoint see only the notifications it is interested in.

Set it as the endpoint's ``filter_rule`` attribute::

    class ComputeEndpoint:
        filter_rule = NotificationFilter(publisher_id=r"^compute.*",
                                         payload={"state": "^(active|error)$"})

Every pattern is a regular expression applied with ``re.match`` (anchored
at the start only; add ``$`` to anchor the end). Dict filters (context,
metadata, payload, nested at any depth) require each key to be present and
its value to be a string that matches; anything else is a mismatch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["NotificationFilter"]

_Rules = dict[str, Any]  # key -> compiled pattern or nested _Rules


def _compile(rules: Mapping[str, Any] | None) -> _Rules:
    out: _Rules = {}
    for key, value in (rules or {}).items():
        out[key] = _compile(value) if isinstance(value, Mapping) else re.compile(value)
    return out


def _as_mapping(data: Any) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping):
        return data
    to_dict = getattr(data, "to_dict", None)  # a deserialized context object
    if callable(to_dict):
        value = to_dict()
        return value if isinstance(value, Mapping) else None
    return None


def _mismatch(data: Any, rule: Any) -> bool:
    if rule is None:
        return False
    if isinstance(rule, dict):
        mapping = _as_mapping(data)
        if mapping is None:
            return bool(rule)
        return any(key not in mapping or _mismatch(mapping[key], sub)
                   for key, sub in rule.items())
    return not isinstance(data, str) or rule.match(data) is None


class NotificationFilter:
    """Regex screen on context, publisher id, event type, metadata and payload.

    :param context: ``{key: regex}`` on the (deserialized) request context.
    :param publisher_id: regex on the publisher id.
    :param event_type: regex on the event type.
    :param metadata: ``{key: regex}`` on ``{'message_id', 'timestamp'}``.
    :param payload: ``{key: regex}`` on the payload (values may nest dicts).

    Patterns are compiled here, so a bad one raises ``re.error`` at once.
    """

    def __init__(self, context: Mapping[str, Any] | None = None,
                 publisher_id: str | None = None, event_type: str | None = None,
                 metadata: Mapping[str, Any] | None = None,
                 payload: Mapping[str, Any] | None = None) -> None:
        self._publisher_id = re.compile(publisher_id) if publisher_id is not None else None
        self._event_type = re.compile(event_type) if event_type is not None else None
        self._context = _compile(context)
        self._metadata = _compile(metadata)
        self._payload = _compile(payload)

    def match(self, context: Any, publisher_id: Any, event_type: Any, metadata: Any,
              payload: Any) -> bool:
        """True if the notification passes every filter given."""
        return not (_mismatch(publisher_id, self._publisher_id)
                    or _mismatch(event_type, self._event_type)
                    or _mismatch(context, self._context)
                    or _mismatch(metadata, self._metadata)
                    or _mismatch(payload, self._payload))
