"""The quickstart's notification listener. Run it first, then notifier.py:

    python examples/quickstart/listener.py [URL]

It prints the notifications of topic ``quickstart_events``; Ctrl-C stops it.
"""

import os
import signal
import sys
import threading

import messaging


class Printer:
    """Endpoint methods are named after the priorities they want."""

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        print(f"info: {event_type} from {publisher_id}: {payload}", flush=True)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        print(f"error: {event_type} from {publisher_id}: {payload}", flush=True)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MESSAGING_TRANSPORT_URL",
                                                               "zmq://")
    transport = messaging.get_notification_transport(None, url)
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic="quickstart_events")], [Printer()],
        executor="threading")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    listener.start()
    while not listener.consuming and not stop.wait(0.1):
        pass
    print(f"listening to topic 'quickstart_events' on {transport.url!r}; Ctrl-C stops it",
          flush=True)
    stop.wait()
    listener.stop()
    listener.wait()
    transport.cleanup()


if __name__ == "__main__":
    main()
