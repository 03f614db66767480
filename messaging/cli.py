"""The ``messaging`` command.

``demo`` runs the getting-started scenario; ``drivers`` lists installed drivers.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .transport import installed_drivers

__all__ = ["main"]


def _drivers() -> int:
    rows = [("scheme", "provided by", "entry point", "client library")]
    for d in installed_drivers():
        client = f"{d.client_library} {d.client_version}" if d.client_library else "none (memory)"
        rows.append((d.scheme, f"{d.distribution} {d.version}", d.target, client))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                         .rstrip() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``messaging`` console script."""
    parser = argparse.ArgumentParser(prog="messaging", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the getting-started scenario (no broker needed)")
    demo.add_argument("--url", default="fake://", help="transport URL (default fake://)")
    sub.add_parser("drivers", help="list installed drivers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "drivers":
        return _drivers()
    from .demo import run

    run(sys.stdout, args.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
