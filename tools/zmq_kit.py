"""Run a command with the conformance kit on zmq:// and zmq+redis://, in a fresh namespace.

Usage: ``python tools/zmq_kit.py COMMAND...``. Sets ``MESSAGING_TRANSPORT_URL``
to ``zmq:///<ns>`` and ``zmq+redis://127.0.0.1:6379/<ns>`` with a namespace
(the URL's virtual host) unique to this run, runs COMMAND, then deletes the
namespace's matchmaker entries (the Redis keys ``messaging-zmq:<ns>:*``, the
local matchmaker's directory) whatever happened. Without Redis answering on
127.0.0.1:6379 only ``zmq://`` runs, unless ``MESSAGING_REQUIRE_BROKERS=1``
(CI), where that is an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

REDIS = ("127.0.0.1", 6379)


def main() -> int:
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__ or "")
        return 2
    namespace = f"kit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    urls = [f"zmq:///{namespace}"]
    from messaging_zmq.matchmaker import purge_namespace
    from messaging_zmq.matchmaker.redis import unreachable

    problem = unreachable(*REDIS)
    if problem is None:
        urls.append(f"zmq+redis://{REDIS[0]}:{REDIS[1]}/{namespace}")
    elif os.environ.get("MESSAGING_REQUIRE_BROKERS") == "1":
        sys.stderr.write(f"{problem}\n")
        return 1
    else:
        sys.stderr.write(f"{problem}: the kit runs on zmq:// only\n")
    env = dict(os.environ, MESSAGING_TRANSPORT_URL=" ".join(urls))
    try:
        return subprocess.call(sys.argv[1:], env=env)
    finally:
        for url in urls:
            try:
                purge_namespace(url)
            except Exception as exc:  # entries expire by themselves anyway
                sys.stderr.write(f"could not purge {url}: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
