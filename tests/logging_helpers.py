"""A private logger for tests that check what a logging handler does with records."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator


@contextlib.contextmanager
def logger_with_only(handler: logging.Handler) -> Iterator[logging.Logger]:
    """A fresh DEBUG logger whose one handler is ``handler`` (nothing propagates to root)."""
    logger = logging.getLogger(f"svc.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
