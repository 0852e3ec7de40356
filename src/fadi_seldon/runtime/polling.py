"""Waiting for something to become true: one loop for every wait of the package.

`wait_until` calls `condition` every `every` seconds until it returns a true value, and returns that
value. A condition that finds the wait hopeless (the process it waits for has exited) raises its own
error, which ends the wait at once. When `timeout` seconds pass first, `WaitTimeout` names what was
waited for; callers usually turn it into an error of their own with the log to read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """`what` did not happen within `timeout` seconds."""

    def __init__(self, what: str, timeout: float, waited: float) -> None:
        super().__init__(f"timed out after {timeout:.0f}s waiting for {what}")
        self.what = what
        self.timeout = timeout
        self.waited = waited


def wait_until(
    what: str,
    condition: Callable[[], T | None],
    timeout: float,
    every: float = 0.1,
    *,
    progress: Callable[[float], object] | None = None,
    progress_every: float = 10.0,
) -> T:
    """The first true value of `condition()`, polled every `every` seconds for at most `timeout` seconds.

    The condition is always called at least once, and once more at the deadline, so a slow machine
    never loses a last chance to the sleep. `progress(seconds_waited)` is called every `progress_every` seconds of waiting (for
    "still waiting" notes). Raises `WaitTimeout` when the time is up.
    """
    started = time.monotonic()
    last_note = started
    while True:
        value = condition()
        if value:
            return value
        now = time.monotonic()
        if now - started > timeout:
            raise WaitTimeout(what, timeout, now - started)
        if progress is not None and now - last_note > progress_every:
            progress(now - started)
            last_note = now
        time.sleep(min(every, max(0.0, timeout - (now - started))))


def ended_within(condition: Callable[[], object], timeout: float, every: float = 0.05) -> bool:
    """True when `condition()` becomes true within `timeout` seconds (the wait is not an error)."""
    try:
        wait_until("a condition", condition, timeout, every)
    except WaitTimeout:
        return False
    return True
