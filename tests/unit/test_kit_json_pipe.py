"""The kit's pipe to its listener host processes: JSON messages, never anything else."""

from __future__ import annotations

import datetime
import socket

import pytest

from messaging.testing.json_pipe import MAX_MESSAGE, JsonPipe, PipeClosed


@pytest.fixture
def pipes():
    a, b = socket.socketpair()
    left, right = JsonPipe(a), JsonPipe(b)
    yield left, right
    left.close()
    right.close()


def test_messages_arrive_whole_and_in_order(pipes):
    left, right = pipes
    big = {"text": "héllo ✓" * 10000, "n": [1, 2.5, None, True]}
    left.send(big)
    left.send({"id": 2})
    assert right.receive() == big
    assert right.receive() == {"id": 2}


def test_dates_travel_as_text_as_on_the_bus(pipes):
    left, right = pipes
    left.send({"when": datetime.datetime(2026, 1, 2, 3, 4, 5)})
    assert isinstance(right.receive()["when"], str)


def test_what_json_cannot_carry_is_refused_before_sending(pipes):
    left, right = pipes
    with pytest.raises(TypeError):
        left.send({"x": object()})
    left.send({"after": True})
    assert right.receive() == {"after": True}


def test_a_closed_pipe_ends_receive(pipes):
    left, right = pipes
    left.close()
    with pytest.raises(PipeClosed):
        right.receive()
    with pytest.raises(PipeClosed):
        right.send({"to": "nobody"})


def test_a_length_over_the_limit_is_refused_without_reading_it():
    a, b = socket.socketpair()
    try:
        a.sendall((MAX_MESSAGE + 1).to_bytes(4, "big"))
        with pytest.raises(PipeClosed, match="more than the pipe carries"):
            JsonPipe(b).receive()
    finally:
        a.close()
        b.close()


def test_a_message_cut_short_is_an_error():
    a, b = socket.socketpair()
    try:
        a.sendall((10).to_bytes(4, "big") + b'{"a"')
        a.close()
        with pytest.raises(PipeClosed, match="middle of a message"):
            JsonPipe(b).receive()
    finally:
        b.close()
