"""oslo.messaging's ``notify.messaging`` module path for the bus notifier drivers."""

from .drivers import MessagingDriver, MessagingV2Driver

__all__ = ["MessagingDriver", "MessagingV2Driver"]
