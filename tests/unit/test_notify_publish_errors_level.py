"""PublishErrorsHandler: its level alone picks the records it publishes, as oslo's.

oslo.messaging's handler publishes every record that reaches it (a
``logging.Handler`` at NOTSET unless given a level) as an
``error_notification`` at the ERROR priority, with the record's unformatted
``msg``. The same holds when it follows the service's configuration.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from logging_helpers import logger_with_only

from messaging.notify import PublishErrorsHandler
from messaging.notify.drivers import get_test_notifications, reset_test_notifications


def _log(handler: logging.Handler, *records: tuple[int, object]) -> list[tuple[str, object]]:
    """Log through a DEBUG logger with only ``handler``; (priority, error) of what was sent."""
    reset_test_notifications()
    try:
        with logger_with_only(handler) as logger:
            for level, msg in records:
                logger.log(level, msg)
    finally:
        handler.close()
    return [(priority, message["payload"]["error"])
            for _ctxt, message, priority, _retry in get_test_notifications()]


ALL_LEVELS = [(logging.DEBUG, "d"), (logging.INFO, "i"), (logging.WARNING, "w"),
              (logging.ERROR, "e"), (logging.CRITICAL, "c")]


@pytest.mark.parametrize("level, published", [
    (logging.ERROR, ["e", "c"]),
    (logging.WARNING, ["w", "e", "c"]),
    ("INFO", ["i", "w", "e", "c"]),
    (None, ["d", "i", "w", "e", "c"]),  # no level: NOTSET, as logging.Handler (and oslo)
])
def test_the_level_alone_picks_the_published_records(level, published):
    args = () if level is None else (level,)
    handler = PublishErrorsHandler(*args, url="fake://", driver="test")
    assert _log(handler, *ALL_LEVELS) == [("ERROR", text) for text in published]


def test_the_level_picks_them_when_the_handler_follows_the_service_configuration(
        monkeypatch, tmp_path):
    cfg = pytest.importorskip("oslo_config.cfg")
    path = tmp_path / "svc.conf"
    path.write_text(f"[oslo_messaging_notifications]\ndriver = test\n"
                    f"transport_url = fake:///{uuid.uuid4().hex}\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    monkeypatch.setattr(cfg, "CONF", conf)
    handler = PublishErrorsHandler(logging.WARNING)  # as oslo.log would, at another level
    assert _log(handler, *ALL_LEVELS) == [("ERROR", "w"), ("ERROR", "e"), ("ERROR", "c")]


def test_the_error_is_the_unformatted_msg_and_json_values_stay_values():
    handler = PublishErrorsHandler(logging.ERROR, url="fake://", driver="test")

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    got = _log(handler, (logging.ERROR, "disk %s"), (logging.ERROR, {"disk": "sda"}),
               (logging.ERROR, 42), (logging.ERROR, ValueError("bad disk")),
               (logging.ERROR, Thing()))
    assert got == [("ERROR", "disk %s"), ("ERROR", {"disk": "sda"}), ("ERROR", 42),
                   ("ERROR", "ValueError('bad disk')"),  # LOG.error(exc): oslo's repr
                   ("ERROR", "a thing")]
