"""StreamWatch: a denial ends the stream (stop set, the reason kept); an engine hiccup does not."""

from __future__ import annotations

from rshell.authority.streamwatch import StreamWatch, stream_stop
from rshell.errors import VerbFailed
from rshell.policy.view import Decision
from rshell.verb import CancelSignal

DEADLINE = 10.0


def test_a_check_that_fails_is_tried_again_and_the_first_denial_stops_the_stream() -> None:
    answers: list[Decision | Exception] = [
        VerbFailed("engine down"),
        VerbFailed("engine down"),
        Decision(False, "gone"),
    ]

    def check() -> Decision:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stop = CancelSignal()
    with StreamWatch(check, stop, interval=0.01) as watch:
        assert stop.wait(DEADLINE)
    assert watch.denied == Decision(False, "gone")
    assert answers == []


def test_an_allowed_stream_is_left_alone_and_the_watch_ends_with_the_block() -> None:
    calls: list[int] = []

    def check() -> Decision:
        calls.append(1)
        return Decision(True, "still yours")

    stop = CancelSignal()
    with StreamWatch(check, stop, interval=0.01) as watch:
        while len(calls) < 3:
            assert not stop.wait(0.01)
    seen = len(calls)
    assert watch.denied is None
    assert not stop.is_set()
    assert not stop.wait(0.05)
    assert len(calls) == seen  # the thread is gone


def test_the_callers_cancel_stops_the_stream_too() -> None:
    cancel = CancelSignal()
    stop = stream_stop(cancel)
    assert not stop.is_set()
    cancel.set()
    assert stop.is_set()
