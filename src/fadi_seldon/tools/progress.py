"""Progress output of installs: each step with the elapsed time, and a heartbeat during long ones."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from fadi_seldon.runtime import commands


def elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """Prints what is happening, with elapsed time, and a heartbeat during long steps."""

    def __init__(self, stream=None, heartbeat: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.heartbeat = heartbeat
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[tools {elapsed(time.monotonic() - self.started)}] {message}", file=self.stream, flush=True)

    def run(
        self, label: str, argv: Sequence[str], *, cwd: Path | None, env: dict[str, str], log: Path
    ) -> int:
        """Run a command, appending its output to `log`, printing a heartbeat while it runs; its exit code."""
        self.say(label)

        def beat(seconds: float) -> None:
            self.say(f"  ... still {label.strip()} ({elapsed(seconds)} so far)")

        return commands.run(argv, log=log, cwd=cwd, env=env, heartbeat=beat, every=self.heartbeat).code
