"""The client-agnostic policy behind reconnects and the send backlog (no broker needed).

:class:`~messaging_amqp091.recovery.ReconnectPolicy` waits the base interval
while nothing listens and backs off (capped) otherwise;
:class:`~messaging_amqp091.backlog.Backlog` keeps deferred retries under the
same budget and deadline rules as everything else.
"""

from __future__ import annotations

from messaging_amqp091.backlog import Backlog, Task
from messaging_amqp091.recovery import ReconnectPolicy

from messaging.exceptions import MessageDeliveryFailure


def _policy(hosts: int = 2) -> ReconnectPolicy:
    return ReconnectPolicy(hosts, "round-robin", retry_interval=1.0, retry_backoff=2.0,
                           interval_max=4.0, reconnect_delay=0.5)


def test_refused_passes_retry_at_the_base_interval_forever():
    policy = _policy()
    assert policy.lost() == 0.5
    delays = [policy.failed(refused=True) for _ in range(20)]
    assert delays == [0.0, 1.0] * 10


def test_other_failures_back_off_up_to_the_cap_and_reset_on_connect():
    policy = _policy()
    delays = [policy.failed(refused=False) for _ in range(10)]
    assert delays == [0.0, 1.0, 0.0, 3.0, 0.0, 4.0, 0.0, 4.0, 0.0, 4.0]
    policy.connected()
    assert [policy.failed(refused=False) for _ in range(2)] == [0.0, 1.0]


def test_one_host_answering_badly_makes_the_pass_back_off():
    policy = _policy()
    assert [policy.failed(refused=r) for r in (True, False, True, False)] == [0.0, 1.0,
                                                                               0.0, 3.0]


def test_hosts_are_tried_in_the_strategys_order():
    policy = _policy(3)
    assert [policy.next_host() for _ in range(4)] == [0, 1, 2, 0]


def test_every_shuffled_pass_tries_every_host_once():
    policy = ReconnectPolicy(3, "shuffle", retry_interval=1.0, retry_backoff=2.0,
                             interval_max=4.0, reconnect_delay=0.5)
    picks = [policy.next_host() for _ in range(300)]
    assert all(sorted(picks[i:i + 3]) == [0, 1, 2] for i in range(0, 300, 3))
    assert len({tuple(picks[i:i + 3]) for i in range(0, 300, 3)}) > 1


def _error(task: Task) -> BaseException:
    return MessageDeliveryFailure(f"failed after {task.failures}")


def test_a_deferred_task_is_charged_swept_and_released_like_the_others():
    backlog = Backlog()
    patient, limited, late = Task(None, 100.0), Task(1, None), Task(None, 10.0)
    backlog.defer(patient, when=5.0)
    backlog.defer(limited, when=5.0)
    backlog.add(late)
    assert backlog.earliest == 10.0
    backlog.charge_attempt(False, _error)
    assert not limited.future.done()
    backlog.charge_attempt(False, _error)
    assert "failed after 2" in str(limited.future.exception())
    backlog.sweep(11.0, _error)
    assert late.future.done() and not patient.future.done()
    assert backlog.earliest == 100.0
    backlog.release_due(4.0)
    assert backlog.first() is None
    backlog.release_due(5.0)
    assert backlog.first() is patient


def test_a_fatal_attempt_fails_everything_at_once():
    backlog = Backlog()
    tasks = [Task(None, None) for _ in range(3)]
    for task in tasks:
        backlog.add(task)
    assert backlog.charge_attempt(True, _error) == 3
    assert backlog.first() is None and len(backlog) == 0
