"""The asyncio notifier: ``await notifier.info(ctxt, event_type, payload)``.

It builds notifications with the same code as :class:`~messaging.notify.Notifier`
and sends them through each notifier driver's future form
(:meth:`~messaging.notify.drivers.NotifierDriver.submit_notify`): the bus
drivers use the transport's ``submit_notify`` and are awaited on the running
loop without a thread, so many notifications can be in flight at once
(``asyncio.gather``). As with the sync notifier, a driver that fails is
logged and never raises into the caller.
"""

from __future__ import annotations

from typing import Any

from ..aio import await_future
from .drivers import start_each
from .notifier import _NotifierBase

__all__ = ["AsyncNotifier"]


class AsyncNotifier(_NotifierBase):
    """Sends notifications from async code; the parameters are :class:`Notifier` 's.

    Each priority method returns once every driver has sent the notification
    (confirmed by the bus, for drivers that confirm). Cancelling the awaiting
    task stops the waiting, not the notification: it is sent all the same.
    """

    async def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        built = self._build(ctxt, event_type, payload, priority)
        if built is not None:
            # The sends' own futures (the transport's, for bus drivers), awaited as they are:
            # each logs its own failure, which never reaches the caller.
            for sent in start_each(self._drivers.items(), *built, priority, self.retry):
                try:
                    # cancel=False: cancelling the caller stops the waiting, not the sending
                    await await_future(sent, None, f"notification {event_type!r} ({priority})",
                                       cancel=False)
                except Exception:  # logged by the future's own callback
                    pass

    async def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at AUDIT priority."""
        await self._notify(ctxt, event_type, payload, "AUDIT")

    async def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at DEBUG priority."""
        await self._notify(ctxt, event_type, payload, "DEBUG")

    async def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at INFO priority."""
        await self._notify(ctxt, event_type, payload, "INFO")

    async def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at WARN priority (the wire says ``WARN``, the topic ``.warn``)."""
        await self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    async def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at ERROR priority."""
        await self._notify(ctxt, event_type, payload, "ERROR")

    async def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at CRITICAL priority."""
        await self._notify(ctxt, event_type, payload, "CRITICAL")

    async def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send ``payload`` at SAMPLE priority (frequent, small measurements)."""
        await self._notify(ctxt, event_type, payload, "SAMPLE")
