"""The quickstart's RPC client: a call waits for the answer, a cast does not.

    python examples/quickstart/client.py [URL]

Start server.py first, with the same URL.
"""

import os
import sys
import time

import messaging


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MESSAGING_TRANSPORT_URL",
                                                               "zmq://")
    with messaging.get_rpc_transport(None, url) as transport:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="quickstart"),
                                          timeout=10)

        began = time.monotonic()
        total = client.call({}, "add", a=2, b=3)
        print(f"call add(2, 3) returned {total!r} after {time.monotonic() - began:.2f} s: "
              f"a call waits for the server's answer")

        try:
            client.call({}, "divide", a=1, b=0)
        except ZeroDivisionError as exc:
            print(f"call divide(1, 0) raised ZeroDivisionError({str(exc)!r}) from the server")

        began = time.monotonic()
        result = client.cast({}, "work", seconds=2)
        print(f"cast work(seconds=2) returned {result!r} after "
              f"{time.monotonic() - began:.2f} s: a cast does not wait for the server")


if __name__ == "__main__":
    main()
