"""A call and its request end together: once the caller got MessagingTimeout, no server can take it.

The request's expiration is computed from the same deadline as the call's
wait (one ``time.monotonic()`` reading), so there is no window in which the
caller has given up but the request still sits on the queue, to be run by a
server that starts polling a moment later (what made
``test_unconsumed_call_request_expires`` flaky: 5 in 300 such calls ran).
"""

from __future__ import annotations

import uuid

from messaging import MessagingTimeout, Target, get_rpc_transport


def test_a_timed_out_request_is_never_delivered_afterwards() -> None:
    leftovers = []
    for _ in range(200):
        transport = get_rpc_transport(None, f"fake:///deadline-{uuid.uuid4().hex}")
        try:
            listener = transport.listen(Target(topic="t", server="s1"))  # not polled yet
            try:
                transport.call(Target(topic="t"), {}, {"method": "late", "args": {}},
                               timeout=0.002)
            except MessagingTimeout:
                pass
            else:
                raise AssertionError("nobody answers: the call must time out")
            transport.cast(Target(topic="t"), {}, {"method": "after", "args": {}})
            got = [m.message["method"] for m in listener.poll(timeout=5, max_messages=10)]
            if got != ["after"]:
                leftovers.append(got)
        finally:
            transport.cleanup()
    assert not leftovers, leftovers
