"""The send backlog's rules: order, retry budgets, deadlines, and confirms by delivery tag.

:class:`~messaging_amqp091.backlog.Backlog` holds what a connection's I/O
loop has not yet sent; both drivers' loops charge it for every failed
connection attempt and sweep it for deadlines. ``retry=N`` lets a task
live through N failed attempts (None or negative: any number); a fatal
failure (a refused login) fails everything at once.
:class:`~messaging_amqp091.backlog.ConfirmTracker` matches the broker's
pipelined confirms to publishes by delivery tag.
"""

from __future__ import annotations

import math

import pytest
from messaging_amqp091.backlog import Backlog, ConfirmTracker, Task

from messaging.exceptions import MessageDeliveryFailure


def _error(task: Task) -> BaseException:
    return MessageDeliveryFailure(f"failed after {task.failures}")


@pytest.mark.parametrize("retry, survives", [(0, 0), (1, 1), (3, 3), (None, 50), (-1, 50)])
def test_retry_n_survives_n_failed_attempts_and_fails_on_the_next(retry, survives):
    backlog = Backlog()
    task = Task(retry, None)
    backlog.add(task)
    for _ in range(survives):
        assert backlog.charge_attempt(False, _error) == 0
    if survives == 50:  # no limit
        assert backlog.first() is task
        return
    assert backlog.charge_attempt(False, _error) == 1
    assert str(task.future.exception()) == f"failed after {retry + 1}"
    assert backlog.first() is None


def test_tasks_run_in_order_and_work_to_redo_goes_first():
    backlog = Backlog()
    a, b, c, d = (Task(None, None) for _ in range(4))
    backlog.add(a)
    backlog.add(b)
    backlog.add_front([c, d])  # e.g. unconfirmed publishes of a lost channel
    order = []
    while (task := backlog.first()) is not None:
        order.append(task)
        backlog.done(task)
    assert order == [c, d, a, b]


def test_finished_tasks_are_skipped_and_done_only_forgets_the_head():
    backlog = Backlog()
    cancelled, live = Task(None, None), Task(None, None)
    backlog.add(cancelled)
    backlog.add(live)
    cancelled.future.cancel()
    backlog.done(live)  # not the head: nothing forgotten
    assert backlog.first() is live and len(backlog) == 1


def test_a_sweep_fails_what_is_past_its_deadline_also_awaiting_a_confirm():
    backlog = Backlog()
    soon, later, forever, in_flight = Task(None, 5.0), Task(None, 20.0), Task(None, None), \
        Task(None, 8.0)
    for task in (soon, later, forever):
        backlog.add(task)
    assert backlog.earliest == 5.0
    backlog.sweep(10.0, _error, in_flight=[in_flight])
    assert soon.future.done() and in_flight.future.done()
    assert not later.future.done() and not forever.future.done()
    assert backlog.earliest == 20.0
    backlog.sweep(30.0, _error)
    assert backlog.earliest == math.inf and backlog.first() is forever


def test_deferred_tasks_wait_for_their_time_then_queue_behind_the_others():
    backlog = Backlog()
    retry, now = Task(None, None), Task(None, None)
    backlog.defer(retry, when=3.0)
    backlog.add(now)
    assert backlog.next_due() == 3.0
    backlog.release_due(2.9)
    assert backlog.first() is now
    backlog.done(now)
    assert backlog.first() is None
    backlog.release_due(3.0)
    assert backlog.first() is retry and backlog.next_due() == math.inf


def test_closing_fails_every_task_ready_or_deferred():
    backlog = Backlog()
    tasks = [Task(None, None), Task(2, 9.0)]
    backlog.add(tasks[0])
    backlog.defer(tasks[1], when=1.0)
    backlog.fail_all(lambda _t: MessageDeliveryFailure("connection closed"))
    assert [str(t.future.exception()) for t in tasks] == ["connection closed"] * 2
    assert len(backlog) == 0 and backlog.earliest == math.inf


def test_confirms_are_matched_by_delivery_tag_one_or_many_at_a_time():
    tracker = ConfirmTracker()
    tasks = [Task(None, None) for _ in range(5)]
    for task in tasks:
        tracker.sent(task)
    assert tracker.peak == 5 and sorted(tracker.pending) == [1, 2, 3, 4, 5]
    assert tracker.settled(2, multiple=False) == [tasks[1]]
    assert tracker.settled(4, multiple=True) == [tasks[0], tasks[2], tasks[3]]
    assert tracker.settled(9, multiple=False) == []  # unknown tag: nothing
    tracker.sent(Task(None, None))
    assert tracker.take_all()[0] is tasks[4] and len(tracker) == 0
    assert tracker.next_tag == 7 and tracker.peak == 5
