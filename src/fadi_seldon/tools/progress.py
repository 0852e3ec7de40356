"""Progress output of installs: each step with the elapsed time, and a heartbeat during long ones."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


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
        """Run a command, appending its output to `log`, printing a heartbeat while it runs."""
        self.say(label)
        step_start = time.monotonic()
        with log.open("a", encoding="utf-8") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
            done = threading.Event()

            def beat() -> None:
                while not done.wait(self.heartbeat):
                    self.say(f"  ... still {label.strip()} ({elapsed(time.monotonic() - step_start)} so far)")

            threading.Thread(target=beat, daemon=True).start()
            try:
                return proc.wait()
            finally:
                done.set()
