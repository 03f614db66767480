"""The local RabbitMQ node, for the suites that need it: reachability, rabbitmqctl, vhosts.

Imported by the functional and interop conftests (``tests/`` is on the path
through ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

from messaging.testing.plugin import skip_or_fail

BROKER = ("127.0.0.1", 5672)


def ctl_path() -> str | None:
    """Where rabbitmqctl is, or None."""
    return shutil.which("rabbitmqctl") or (
        "/usr/sbin/rabbitmqctl" if os.path.exists("/usr/sbin/rabbitmqctl") else None)


def unreachable() -> str | None:
    """Why the local node cannot serve the tests, or None if it can."""
    try:
        with socket.create_connection(BROKER, timeout=2):
            pass
    except OSError as exc:
        return f"RabbitMQ on {BROKER[0]}:{BROKER[1]} unreachable: {exc}"
    if ctl_path() is None:
        return "rabbitmqctl not found"
    return None


def ctl(*args: str, vhost: str | None = None, timeout: float = 60) -> str:
    """Run ``rabbitmqctl -q [-p vhost] args`` against the local node and return stdout."""
    exe = ctl_path()
    assert exe is not None
    cmd = [exe, "-q", *(("-p", vhost) if vhost else ()), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return out.stdout


@contextlib.contextmanager
def private_vhost(prefix: str) -> Iterator[str]:
    """A vhost of its own for ``guest``, deleted afterwards (skips or fails if no node)."""
    problem = unreachable()
    if problem is not None:
        skip_or_fail(problem)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        ctl("delete_vhost", name)


def vhost_url(vhost: str) -> str:
    """The transport URL of ``vhost`` on the local node (oslo.messaging reads it too)."""
    return f"rabbit://guest:guest@127.0.0.1:5672/{vhost}"
