"""Message and reply ids: oslo's shape (32 hex), unique in a process, across processes and forks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest

from messaging.envelope import new_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_ids_have_oslos_shape() -> None:
    for _ in range(100):
        assert HEX32.fullmatch(new_id())


def test_ids_are_unique_across_threads() -> None:
    got: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_id() for _ in range(20000))

    threads = [threading.Thread(target=make, args=(out,)) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = [i for out in got for i in out]
    assert len(set(every)) == len(every) == 80000


def test_another_process_makes_other_ids() -> None:
    code = "from messaging.envelope import new_id; print(' '.join(new_id() for _ in range(1000)))"
    theirs = set()
    for _ in range(2):  # two runs of the same program: a restart
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
        assert len(out) == 1000
        theirs.update(out)
    assert len(theirs) == 2000
    ours = {new_id() for _ in range(1000)}
    assert not ours & theirs
    assert not {i[:20] for i in ours} & {i[:20] for i in theirs}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_other_ids() -> None:
    read, write = os.pipe()
    new_id()  # the parent's counter has moved on
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        try:
            os.write(write, " ".join(new_id() for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        child = f.read().split()
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(100)]
    assert len(child) == 100
    assert not set(child) & set(parent)


def test_ids_are_version_4_uuids_and_notification_ids_have_the_dashed_form() -> None:
    import uuid

    from messaging.envelope import new_uuid_str

    for _ in range(50):
        parsed = uuid.UUID(new_id())
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        text = new_uuid_str()
        assert str(uuid.UUID(text)) == text and uuid.UUID(text).version == 4
