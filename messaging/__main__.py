"""``python -m messaging`` is the ``messaging`` command."""

import sys

from .cli import main

sys.exit(main())
