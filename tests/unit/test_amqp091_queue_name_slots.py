"""Queue name slots (use_queue_manager): distinct while held, the lowest free one reused."""

from __future__ import annotations

import subprocess
import sys

from messaging_amqp091.queue_names import claim, fanout_queue_name, reply_queue_name


def test_held_slots_are_distinct_and_a_released_one_is_reused(tmp_path):
    a = claim("h", "p", "reply", str(tmp_path))
    b = claim("h", "p", "reply", str(tmp_path))
    assert (reply_queue_name(a), reply_queue_name(b)) == ("reply_h:p:1", "reply_h:p:2")
    a.release()
    c = claim("h", "p", "reply", str(tmp_path))
    assert c.slot == 1
    assert fanout_queue_name("topic", claim("h", "p", "topic", str(tmp_path))) \
        == "topic_fanout_h:p:1"


def test_a_slot_is_released_when_its_process_exits(tmp_path):
    code = ("import sys; from messaging_amqp091.queue_names import claim; "
            f"print(claim('h', 'p', 'reply', {str(tmp_path)!r}).slot)")
    run = [sys.executable, "-c", code]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout == "1\n"
    held = claim("h", "p", "reply", str(tmp_path))  # the child exited without releasing
    assert held.slot == 1
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout == "2\n"
