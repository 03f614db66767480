"""Run a command against a private RabbitMQ node with the AMQP 1.0 plugin.

Usage: ``python tools/amqp1_node.py run -- COMMAND...`` (``tox -e func-amqp1``
does this with pytest). The node starts on free loopback ports in a temp
directory; the command gets ``MESSAGING_TRANSPORT_URL`` (the conformance
kit's URL) and ``MESSAGING_AMQP1_NODE`` (for rabbitmqctl in tests); the node
is stopped and removed afterwards, whatever the command did (also when this
launcher is interrupted or terminated: the command is terminated too). The start-up
time is printed. Without ``/usr/lib/rabbitmq/bin/rabbitmq-server`` it says
why and exits 0, or 1 with ``MESSAGING_REQUIRE_BROKERS=1`` (CI).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "functional", "amqp1"))

from amqp1_broker import NODE_ENV, Amqp1Node  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "run" or "--" not in argv:
        sys.stderr.write(__doc__ or "")
        return 2
    command = argv[argv.index("--") + 1:]
    if not os.path.exists(Amqp1Node.SERVER):
        sys.stderr.write(f"amqp1_node: {Amqp1Node.SERVER} not found: cannot start the AMQP "
                         f"1.0 node; not running {' '.join(command)}\n")
        return 1 if os.environ.get("MESSAGING_REQUIRE_BROKERS") == "1" else 0
    def interrupted(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally below: the node always stops

    signal.signal(signal.SIGTERM, interrupted)
    node = Amqp1Node()
    child: subprocess.Popen[bytes] | None = None
    try:
        node.start()
        print(f"amqp1_node: RabbitMQ node {node.node} with rabbitmq_amqp1_0 on "
              f"127.0.0.1:{node.port} started in {node.startup_seconds:.1f} s", flush=True)
        env = dict(os.environ, MESSAGING_TRANSPORT_URL=node.url)
        env[NODE_ENV] = node.describe()
        child = subprocess.Popen(command, env=env)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        node.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
