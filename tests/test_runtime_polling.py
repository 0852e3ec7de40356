"""runtime.polling.wait_until: the value, the timeout naming what was waited for, early failures, notes."""

from __future__ import annotations

import time

import pytest

from fadi_seldon.runtime import polling


def test_returns_the_first_true_value():
    answers = iter([None, 0, "", {"ready": True}])
    assert polling.wait_until("the answer", lambda: next(answers), timeout=5, every=0.001) == {"ready": True}


def test_timeout_names_what_was_waited_for():
    started = time.monotonic()
    with pytest.raises(
        polling.WaitTimeout, match=r"timed out after 0s waiting for the webhook on :9443"
    ) as err:
        polling.wait_until("the webhook on :9443", lambda: False, timeout=0.2, every=0.02)
    assert err.value.what == "the webhook on :9443" and err.value.timeout == 0.2
    assert 0.2 <= err.value.waited < 2 and time.monotonic() - started < 2
    assert isinstance(err.value, TimeoutError)


def test_the_condition_is_tried_once_more_at_the_deadline():
    calls = []

    def slow_then_ready():
        calls.append(time.monotonic())
        return len(calls) >= 2

    # one try, then a sleep capped at the deadline, then a last try that succeeds
    assert polling.wait_until("it", slow_then_ready, timeout=0.05, every=10) is True
    assert len(calls) == 2


def test_an_error_raised_by_the_condition_ends_the_wait_at_once():
    def exited():
        raise RuntimeError("the process exited")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited"):
        polling.wait_until("it", exited, timeout=30)
    assert time.monotonic() - started < 1


def test_progress_notes_while_waiting():
    notes: list[float] = []
    with pytest.raises(polling.WaitTimeout):
        polling.wait_until(
            "it", lambda: False, timeout=0.3, every=0.01, progress=notes.append, progress_every=0.1
        )
    assert 1 <= len(notes) <= 3 and all(0.1 <= n <= 0.4 for n in notes)


def test_ended_within_is_a_boolean_wait():
    assert polling.ended_within(lambda: True, 0.1) is True
    assert polling.ended_within(lambda: False, 0.05, every=0.01) is False
