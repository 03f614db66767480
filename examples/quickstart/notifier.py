"""The quickstart's notifier: sends two notifications to topic ``quickstart_events``.

    python examples/quickstart/notifier.py [URL]

Start listener.py first, with the same URL (on zmq:// a notification nobody
listens to is dropped; a broker keeps it for the first listener).
"""

import os
import sys

import messaging


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MESSAGING_TRANSPORT_URL",
                                                               "zmq://")
    with messaging.get_notification_transport(None, url) as transport:
        notifier = messaging.Notifier(transport, publisher_id="quickstart.notifier",
                                      driver="messagingv2", topics=["quickstart_events"])
        notifier.info({}, "quickstart.started", {"step": 1})
        notifier.error({}, "quickstart.failed", {"step": 2, "reason": "an example"})
    print("sent 2 notifications to topic 'quickstart_events'")


if __name__ == "__main__":
    main()
