"""Fair turns (rshell.broker.turns): a uid with many calls waiting does not go ahead of a uid with
one; a call that keeps its turn too long gives it up; a cancelled waiting call stops waiting."""

from __future__ import annotations

import threading
import time

from rshell.broker.turns import Turns
from rshell.verb import CancelSignal


def queue_up(turns: Turns, uid: int, order: list[int]) -> threading.Thread:
    """A call of ``uid`` that waits for its turn, notes that it ran, and gives the turn back."""

    def call() -> None:
        ticket = turns.take(uid)
        order.append(uid)
        turns.give_back(ticket)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def waiting(turns: Turns, count: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with turns._lock:  # the test waits until the calls have queued up
            if sum(len(queue) for queue in turns._waiting.values()) == count:
                return True
        time.sleep(0.005)
    return False


def test_a_uid_with_one_call_goes_before_the_backlog_of_another() -> None:
    turns = Turns(lanes=1, seconds=60)
    holder = turns.take(1000)
    order: list[int] = []
    threads = [queue_up(turns, 1000, order) for _ in range(20)]
    assert waiting(turns, 20)
    threads.append(queue_up(turns, 0, order))  # the honest caller arrives after 20 of the flood's calls
    assert waiting(turns, 21)
    turns.give_back(holder)
    for thread in threads:
        thread.join(5)
    assert len(order) == 21
    assert order.index(0) <= 1, order  # served first or second, not 21st


def test_uids_with_waiting_calls_are_served_in_rotation() -> None:
    turns = Turns(lanes=1, seconds=60)
    holder = turns.take(1)
    order: list[int] = []
    threads = []
    for uid in (1, 1, 1, 2, 2, 2, 3):
        threads.append(queue_up(turns, uid, order))
        assert waiting(turns, len(threads))
    turns.give_back(holder)
    for thread in threads:
        thread.join(5)
    assert order == [1, 2, 3, 1, 2, 1, 2]


def test_a_turn_held_too_long_is_given_up_and_the_next_call_runs() -> None:
    turns = Turns(lanes=1, seconds=0.05)
    turns.take(1)  # a stream that never gives its turn back
    started = time.monotonic()
    ticket = turns.take(2)
    assert time.monotonic() - started < 1.0
    turns.give_back(ticket)


def test_a_cancelled_waiting_call_stops_waiting_at_once() -> None:
    turns = Turns(lanes=1, seconds=60)
    turns.take(1)
    cancel = CancelSignal()
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(turns.take(2, cancel)), daemon=True)
    thread.start()
    assert waiting(turns, 1)
    cancel.set()
    thread.join(1)
    assert got == [0]
    assert waiting(turns, 0)


def test_calls_within_the_lanes_do_not_wait_and_the_next_one_does() -> None:
    turns = Turns(lanes=2, seconds=60)
    first, second = turns.take(1), turns.take(2)  # would block the test if either waited
    order: list[int] = []
    third = queue_up(turns, 3, order)
    assert waiting(turns, 1)
    assert order == []
    turns.give_back(first)
    third.join(5)
    assert order == [3]
    turns.give_back(second)
