"""A call made after a server's stop()/wait() never goes to that server's old listener.

The caller's cached matchmaker answer still names the stopped listener, and
its own connection to it may not have noticed the close yet (libzmq learns
of it on its I/O thread, later under load). The call must reach the
restarted server, not vanish into the closed one and time out.
"""

from __future__ import annotations

import messaging

RESTARTS = 30
#: generous per call: a lost call fails on this, a slow machine does not
CALL_TIMEOUT = 20


class Echo:
    def echo(self, ctxt, value):
        return value


def test_calls_after_each_restart_reach_the_new_listener(transports, url, topic):
    server_side = transports(url)
    client_side = transports(url)
    server = messaging.get_rpc_server(server_side, messaging.Target(topic=topic, server="s1"),
                                      [Echo()], executor="threading")
    client = messaging.get_rpc_client(client_side, messaging.Target(topic=topic),
                                      timeout=CALL_TIMEOUT)
    for i in range(RESTARTS):
        server.start()
        try:
            assert client.call({}, "echo", value=i) == i
        finally:
            server.stop()
            server.wait()
