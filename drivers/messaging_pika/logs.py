"""pika's own records about this driver's connection attempts and lost sockets, as debug.

pika logs each failed connection attempt at error level, several records
per attempt, every ``rabbit_retry_interval`` while a broker is down, and
again whenever a socket is lost. The driver's connections report those
events themselves (once per 30 s per cause, naming it), so pika's copies
are wanted at debug level only. :func:`quiet_attempt_records` installs a
filter that does this; the driver calls it when it is built (importing the
package changes nothing). The filter touches only records that pika emits
while doing this driver's work (its I/O threads, and the short probe
connection that counts a queue's consumers, each inside :func:`driver_work`)
and that are about connecting, a failed attempt, closing, a lost socket or
a channel the broker closed (the driver reports or handles each): other
code using pika in the same process, and pika's other records (a protocol
error, a bug), keep their level.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

__all__ = ["ATTEMPT_RECORDS", "AttemptRecordsToDebug", "driver_work", "quiet_attempt_records"]

#: pika logger -> the messages (their format strings' beginnings) that concern connecting,
#: failed attempts, closing and lost sockets; None: every record of that logger does.
#: The same in pika 1.3.2 and 1.4.4 (checked); a record pika words differently keeps its level.
ATTEMPT_RECORDS: dict[str, tuple[str, ...] | None] = {
    "pika.adapters.utils.connection_workflow": None,
    "pika.adapters.utils.io_services_utils": (
        "Socket connected", "Socket failed to connect", "%s.connect(%s) failed",
        "create_streaming_connection(", "SSL wrap_socket(", "SSL do_handshake failed",
        "SSL handshake completed", "Socket EOF", "Aborting transport connection",
        "_AsyncTransportBase._initate_abort()", "Deactivating transport",
        "Closing transport socket", "_AsyncBaseTransport._consume() failed, aborting",
        "_AsyncBaseTransport._produce() failed, aborting", "protocol.eof_received() elected"),
    "pika.adapters.base_connection": (
        "Transport indicated EOF", "Full-stack connection workflow",
        "Self-initiated stack bring-up"),
    "pika.connection": (
        "Closing connection (", "Connection.close() is terminating stream",
        "Connection.close is waiting for", "AMQP stack terminated, failed to connect",
        "Connection setup terminated due to", "Stack terminated due to",
        "Connection closed while authenticating", "Connection closed while tuning",
        "Probably incompatible Protocol Versions"),
    "pika.adapters.blocking_connection": (
        "Connection workflow", "Error in _create_connection()",
        "Unexpected connection close detected", "User-initiated close", "Closing connection (",
        "Created channel="),
    "pika.channel": ("Received remote Channel.Close", "Closing channel ("),
}

#: idents of the threads doing this driver's pika work now -> how many blocks deep
_DRIVER_THREADS: dict[int, int] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def driver_work() -> Iterator[None]:
    """Mark the calling thread as doing this driver's pika work while the block runs."""
    ident = threading.get_ident()
    with _LOCK:
        _DRIVER_THREADS[ident] = _DRIVER_THREADS.get(ident, 0) + 1
    try:
        yield
    finally:
        with _LOCK:
            depth = _DRIVER_THREADS.pop(ident) - 1
            if depth:
                _DRIVER_THREADS[ident] = depth


class AttemptRecordsToDebug(logging.Filter):
    """Turn pika's attempt and lost-socket records of the driver's work into debug records.

    A record so turned is dropped unless its logger is enabled for debug.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or record.thread not in _DRIVER_THREADS:
            return True
        if record.name not in ATTEMPT_RECORDS:
            return True
        prefixes = ATTEMPT_RECORDS[record.name]
        if prefixes is not None and not (isinstance(record.msg, str)
                                         and record.msg.startswith(prefixes)):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_FILTER = AttemptRecordsToDebug()


def quiet_attempt_records() -> None:
    """Attach the filter to pika's loggers (idempotent: at most once each)."""
    with _LOCK:
        for name in ATTEMPT_RECORDS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
