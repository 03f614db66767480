"""Names and layering the driver contract settled (issue 7, "Names and claims").

- The notifier's driver base is ``NotifierDriver`` (the transport's is
  ``messaging.driver.Driver``); ``messaging.notify.drivers.Driver`` stays as
  an alias for code written against the old name.
- The wire format (``messaging.envelope``) does not import the driver
  interface: drivers import the envelope, never the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import messaging.envelope
from messaging.notify import NotifierDriver
from messaging.notify import drivers as notify_drivers


def test_notifier_driver_base_is_named_apart_from_the_transport_driver():
    from messaging.driver import Driver

    assert NotifierDriver is not Driver
    assert notify_drivers.Driver is NotifierDriver  # the old name, kept as an alias
    assert notify_drivers.MessagingV2Driver.__mro__[1:3] == (notify_drivers.MessagingDriver,
                                                             NotifierDriver)


def test_the_wire_format_does_not_import_the_driver_interface():
    tree = ast.parse(Path(messaging.envelope.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {name for name in imported
                if name in (".driver", "messaging.driver", "..driver")}, imported
