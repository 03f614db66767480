"""Create or delete a private RabbitMQ vhost on the local node for a test run.

Usage: python tools/rabbit_vhost.py add|delete NAME. Uses rabbitmqctl, so it
touches only the node on this machine; missing rabbitmqctl or a stopped
node prints why and exits non-zero only when MESSAGING_REQUIRE_BROKERS=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def _ctl(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def main() -> int:
    action, name = sys.argv[1], sys.argv[2]
    try:
        if action == "add":
            _ctl("delete_vhost", name)
            result = _ctl("add_vhost", name)
            if result.returncode == 0:
                result = _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        else:
            result = _ctl("delete_vhost", name)
    except (OSError, subprocess.SubprocessError) as exc:
        sys.stderr.write(f"rabbitmqctl unavailable: {exc}\n")
        return 1 if os.environ.get("MESSAGING_REQUIRE_BROKERS") == "1" else 0
    if result.returncode != 0:
        sys.stderr.write(f"rabbitmqctl {action} {name} failed: {result.stderr.strip()}\n")
        return 1 if os.environ.get("MESSAGING_REQUIRE_BROKERS") == "1" and action == "add" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
