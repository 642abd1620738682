"""Turns per uid (rshell.broker.turns): a uid with many calls waiting never makes another uid wait;
its own calls run at most ``lanes`` at once, oldest first; a call that keeps its turn too long
gives it up; a cancelled waiting call stops waiting."""

from __future__ import annotations

import threading
import time

from rshell.broker.turns import Turns
from rshell.verb import CancelSignal


def queue_up(turns: Turns, uid: int, order: list[tuple[int, int]], number: int) -> threading.Thread:
    """Call ``number`` of ``uid``: waits for its turn, notes that it ran, gives the turn back."""

    def call() -> None:
        ticket = turns.take(uid)
        order.append((uid, number))
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


def test_another_uids_backlog_never_makes_a_call_wait() -> None:
    turns = Turns(lanes=1, seconds=60)
    holder = turns.take(1000)
    order: list[tuple[int, int]] = []
    flood = [queue_up(turns, 1000, order, number) for number in range(20)]
    assert waiting(turns, 20)
    got: list[int] = []
    honest = threading.Thread(target=lambda: got.append(turns.take(0)), daemon=True)
    honest.start()
    honest.join(1)
    assert got, "a call of uid 0 waited behind uid 1000's backlog"
    assert order == []  # the flood still waits behind its own first call
    turns.give_back(got[0])
    turns.give_back(holder)
    for thread in flood:
        thread.join(5)
    assert len(order) == 20


def test_a_uids_calls_run_one_lane_at_a_time_oldest_first() -> None:
    turns = Turns(lanes=1, seconds=60)
    holder = turns.take(7)
    order: list[tuple[int, int]] = []
    threads = []
    for number in range(5):
        threads.append(queue_up(turns, 7, order, number))
        assert waiting(turns, number + 1)
    turns.give_back(holder)
    for thread in threads:
        thread.join(5)
    assert order == [(7, number) for number in range(5)]


def test_calls_within_the_lanes_do_not_wait_and_the_next_one_does() -> None:
    turns = Turns(lanes=2, seconds=60)
    first, second = turns.take(1), turns.take(1)  # would block the test if either waited
    order: list[tuple[int, int]] = []
    third = queue_up(turns, 1, order, 3)
    assert waiting(turns, 1)
    assert order == []
    turns.give_back(first)
    third.join(5)
    assert order == [(1, 3)]
    turns.give_back(second)


def test_a_turn_held_too_long_is_given_up_and_the_next_call_runs() -> None:
    turns = Turns(lanes=1, seconds=0.05)
    turns.take(1)  # a stream that never gives its turn back
    started = time.monotonic()
    ticket = turns.take(1)
    assert time.monotonic() - started < 1.0
    turns.give_back(ticket)


def test_a_cancelled_waiting_call_stops_waiting_at_once() -> None:
    turns = Turns(lanes=1, seconds=60)
    turns.take(1)
    cancel = CancelSignal()
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(turns.take(1, cancel)), daemon=True)
    thread.start()
    assert waiting(turns, 1)
    cancel.set()
    thread.join(1)
    assert got == [0]
    assert waiting(turns, 0)
