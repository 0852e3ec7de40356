"""A client that keeps calling a model at a steady rate and counts what a user would notice.

Used wherever a change must not cost a request (a release moved to our chart, a model rolled out,
the operator killed): every request is sent on a fresh connection, as most callers do, so a pod that
goes away while a kept-alive connection points at it is seen. Failures are kept with their time and
reason; the longest gap between two answers and the slowest answer are recorded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

ROWS = [[1.0, 2.0, 3.0, 4.0]]


class Traffic(threading.Thread):
    """POST a prediction every `every` seconds to `url` (a predictor Service's http URL) until stopped."""

    def __init__(self, url: str, every: float = 0.05, timeout: float = 10.0, rows=ROWS) -> None:
        super().__init__(daemon=True)
        self.url = url.rstrip("/") + "/api/v1.0/predictions"
        self.every, self.timeout = every, timeout
        self.body = json.dumps({"data": {"ndarray": rows}}).encode()
        self.ok, self.failed = 0, 0
        self.errors: list[str] = []
        self.failed_at: list[float] = []  # monotonic times of the failures
        self.answers: list[dict] = []
        self.longest_gap = 0.0
        self.slowest = 0.0
        self.stopping = threading.Event()

    def run(self) -> None:
        last_answer = time.monotonic()
        while not self.stopping.is_set():
            started = time.monotonic()
            request = urllib.request.Request(self.url, self.body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 - a ClusterIP of ours
                    self.answers.append(json.load(resp))
                self.ok += 1
                now = time.monotonic()
                self.longest_gap = max(self.longest_gap, now - last_answer)
                self.slowest = max(self.slowest, now - started)
                last_answer = now
            except (urllib.error.URLError, OSError, ValueError) as err:
                self.failed += 1
                self.failed_at.append(time.monotonic())
                self.errors.append(f"{time.strftime('%X')} {err}")
            time.sleep(max(0.0, self.every - (time.monotonic() - started)))

    def stop(self) -> Traffic:
        self.stopping.set()
        self.join(timeout=30)
        return self

    def failure_window(self) -> float:
        """Seconds from the first failure to the last (0 with one or none)."""
        return self.failed_at[-1] - self.failed_at[0] if self.failed_at else 0.0

    def failure_windows(self, apart: float = 3.0) -> list[float]:
        """The length of each run of failures, runs being more than `apart` seconds from each other."""
        runs: list[list[float]] = []
        for at in self.failed_at:
            if runs and at - runs[-1][1] <= apart:
                runs[-1][1] = at
            else:
                runs.append([at, at])
        return [end - start for start, end in runs]

    def summary(self) -> str:
        return (f"{self.ok + self.failed} sent, {self.failed} failed (windows of {', '.join(f'{w:.2f}' for w in self.failure_windows()) or '-'} s), "
                f"longest gap {self.longest_gap:.2f} s, slowest answer {self.slowest:.2f} s {self.errors[:5]}")  # fmt: skip

    def __enter__(self) -> Traffic:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
