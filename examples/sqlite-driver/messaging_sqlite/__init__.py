"""An example third-party driver for ``messaging``: the bus is one SQLite file.

Installed on its own (``pip install examples/sqlite-driver``), it registers
the URL scheme ``sqlite`` through the ``messaging.drivers`` entry point; the
core finds it exactly as it finds the built-in drivers. Every process that
opens the same file shares the bus, so servers and clients may live in
different processes on one host. See README.md.
"""
