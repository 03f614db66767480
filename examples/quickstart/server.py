"""The quickstart's RPC server. Run it in one terminal and client.py in another:

    python examples/quickstart/server.py [URL [NAME]]

URL: the bus, by default $MESSAGING_TRANSPORT_URL or else ``zmq://`` (no broker:
the processes of one user on one host find each other). NAME: the server's
name (default server1). Ctrl-C stops it.
"""

import os
import signal
import sys
import threading
import time

import messaging


class Calculator:
    """The endpoint: every public method is something a client may call or cast."""

    def add(self, ctxt, a, b):
        print(f"add({a}, {b})", flush=True)
        return a + b

    @messaging.expected_exceptions(ZeroDivisionError)  # the caller's fault: not logged here
    def divide(self, ctxt, a, b):
        return a / b  # b=0: the caller gets the ZeroDivisionError

    def work(self, ctxt, seconds):
        print(f"work: started, {seconds} s to go", flush=True)
        time.sleep(seconds)
        print("work: done", flush=True)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MESSAGING_TRANSPORT_URL",
                                                               "zmq://")
    name = sys.argv[2] if len(sys.argv) > 2 else "server1"
    transport = messaging.get_rpc_transport(None, url)
    target = messaging.Target(topic="quickstart", server=name)
    server = messaging.get_rpc_server(transport, target, [Calculator()], executor="threading")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()  # returns at once; the server connects in the background
    while not server.consuming and not stop.wait(0.1):
        pass
    print(f"{name} is serving topic 'quickstart' on {transport.url!r}; Ctrl-C stops it",
          flush=True)
    stop.wait()
    server.stop()   # no new requests
    server.wait()   # the ones running finish
    transport.cleanup()


if __name__ == "__main__":
    main()
