"""The user's getting-started examples run unchanged but for the import and the URL.

The code blocks below are the seed text's, with ``import oslo_messaging as
messaging`` replaced by ``import messaging`` and the RabbitMQ URL by
``fake://``. The server blocks in ``server.wait()`` as written, so it runs in
a thread and the test stops it.
"""

from __future__ import annotations

import threading

from messaging.testing.helpers import wait_for

SERVER = '''
import sys
import logging
from oslo_config import cfg
import messaging
class TestEndpoint(object):
    target = messaging.Target(namespace='namespace1',
                              version='1.0')
    def test(self,ctx,arg):
        print('this is in text endpoint')
        return arg
class AnotherTestEndpoint(object):
    target = messaging.Target(namespace='namespace2',
                              version='1.0')
    def test(self,ctx,arg):
        print('this is in another text endpoint')
        return arg
transport = messaging.get_transport(cfg.CONF,url='fake://')
target = messaging.Target(topic='test',server='server1')
endpoints = [TestEndpoint(),AnotherTestEndpoint()]
server = messaging.get_rpc_server(transport,target,endpoints,executor='blocking')
server.start()
server.wait()
'''

CLIENT = '''
from oslo_config import cfg
import messaging
transport = messaging.get_transport(cfg.CONF,url='fake://')
target = messaging.Target(topic='test',server='server1',namespace='namespace2',fanout=True)
client = messaging.RPCClient(transport,target)
ret = client.cast(ctxt={},method='test',arg = 'this is text')
'''

LISTENER = '''
from oslo_config import cfg
import messaging
class NotificationEndpoint(object):
    def warn(self,ctxt,publisher_id,event_type,payload,metadata):
        print('in class warning')
        return messaging.NotificationResult.HANDLED
class ErrorEndpoint(object):
    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        print('in class error')
        return messaging.NotificationResult.HANDLED
transport = messaging.get_transport(cfg.CONF,url='fake://')
targets = [
    messaging.Target(topic='notification_1'),
    messaging.Target(topic='notification_2')
]
endpoints = [NotificationEndpoint(),ErrorEndpoint()]
server = messaging.get_notification_listener(transport,targets,endpoints)
server.start()
server.wait()
'''

NOTIFIER = '''
from oslo_config import cfg
import messaging
transport = messaging.get_transport(cfg.CONF,url='fake://')
notifier = messaging.Notifier(transport,driver='messaging',topic='notification_3')
notifier.error(ctxt={},event_type='this is type',payload={'hello': 'world'})
notifier.warn(ctxt={},event_type='this is type',payload={'hello': 'world'})
'''


def _run_blocking(code: str) -> tuple[dict, threading.Thread]:
    ns: dict = {}
    thread = threading.Thread(target=exec, args=(code, ns), daemon=True)
    thread.start()
    wait_for(lambda: "server" in ns and ns["server"].running, message="server started")
    return ns, thread


def _stop(ns: dict, thread: threading.Thread) -> None:
    ns["server"].stop()
    thread.join(15)
    assert not thread.is_alive()
    ns["transport"].cleanup()


def test_seed_rpc_server_and_fanout_cast(capsys):
    ns, thread = _run_blocking(SERVER)
    try:
        client_ns: dict = {}
        exec(CLIENT, client_ns)
        assert client_ns["ret"] is None  # cast does not wait for a result
        wait_for(lambda: "this is in another text endpoint" in capsys.readouterr().out
                 or None, message="AnotherTestEndpoint.test to run")
        client_ns["transport"].cleanup()
    finally:
        _stop(ns, thread)


def test_seed_notifier_and_listener(capsys):
    ns, thread = _run_blocking(LISTENER)
    try:
        # The seed's notifier writes to notification_3, which the listener does not read...
        notifier_ns: dict = {}
        exec(NOTIFIER, notifier_ns)
        # ...so point the same code at a topic the listener subscribes to.
        exec(NOTIFIER.replace("notification_3", "notification_1"), notifier_ns)
        seen = ""

        def both() -> bool:
            nonlocal seen
            seen += capsys.readouterr().out
            return "in class warning" in seen and "in class error" in seen

        wait_for(both, message="warn and error endpoints to run")
        assert seen.count("in class error") == 1  # nothing arrived from notification_3
        notifier_ns["transport"].cleanup()
    finally:
        _stop(ns, thread)
