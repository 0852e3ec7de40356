"""Running an external command to its end: the one runner the package's wrappers are built on.

Every domain runs programs it did not write (kubectl, ctr, helm, openssl, go, pip, debootstrap,
gcc, docker), and each needs one of three things from their output: the text itself (captured), a
record to quote when a long build fails (appended to a log, the command line written first), or
the user watching it (shown on stderr, stdout staying the command's result). `run` does all three
the same way and returns what happened; `check` turns a failure into an error that quotes the
output's last lines, so a failed build says why without opening the log. A long command can beat
a heartbeat (`heartbeat`, called every `every` seconds) so a quiet ten-minute build shows it is
alive.

Processes that outlive the call (servers, the control plane) are not run here: they are started
and stopped by `runtime.processes`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fadi_seldon.runtime.processes import tail

# what a command running past its `timeout` raises (subprocess's own class: callers catch either name)
TimeoutExpired = subprocess.TimeoutExpired

# where root's tools live even when PATH lacks them (a non-login root shell, a user's PATH)
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
TAIL_LINES = 15


class CommandFailed(RuntimeError):
    """A command exited non-zero; the message says what was being done and quotes its output's end."""

    def __init__(self, message: str, result: Completed) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Completed:
    """A command that ran: its exit code and, when captured, its output (else its log, if any)."""

    argv: tuple[str, ...]
    code: int
    stdout: str = ""
    stderr: str = ""
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    def said(self, lines: int = TAIL_LINES) -> str:
        """The last `lines` lines of what the command said: its stderr when captured (its stdout when
        stderr is empty), else its log's end; what a failure is explained with."""
        if self.log is not None and not (self.stdout or self.stderr):
            return tail(self.log, lines)
        return "\n".join((self.stderr.strip() or self.stdout.strip()).splitlines()[-lines:])


def which(command: str) -> str | None:
    """A command on PATH or in the sbin folders (apt-get, debootstrap, iptables live there)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which(command, path=search)


def run(
    argv: Sequence[str | Path],
    *,
    log: Path | None = None,
    show: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float | None = None,
    heartbeat: Callable[[float], None] | None = None,
    every: float = 30.0,
    on_line: Callable[[str], None] | None = None,
) -> Completed:
    """Run `argv` to its end. Its output is captured (the default), appended to `log` after a
    `$ command` line (stderr merged into it), or, with `show`, written to our stderr, so stdout
    holds only the caller's result; text, with bytes that are not UTF-8 replaced (a stray byte
    never fails the caller). `heartbeat(elapsed seconds)` is called every `every` seconds while
    it runs; `on_line(line)` gets each stderr line as it comes (a program reporting its progress
    there), both outputs still captured. A missing program raises OSError; running past `timeout`
    kills it and raises TimeoutExpired."""
    args = tuple(str(a) for a in argv)
    if on_line is not None:
        return _run_reading(args, on_line, env, cwd)
    with contextlib.ExitStack() as stack, _beating(heartbeat, every):
        stdout: int | IO[str] = subprocess.PIPE
        stderr: int | None = subprocess.PIPE
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            stdout, stderr = stack.enter_context(log.open("a", encoding="utf-8")), subprocess.STDOUT
            stdout.write(f"\n$ {' '.join(args)}\n")
            stdout.flush()
        elif show:
            stdout, stderr = _stderr_fd(), None
        proc = subprocess.run(
            args, stdout=stdout, stderr=stderr, env=env, cwd=cwd, input=input, timeout=timeout,
            text=True, errors="replace",
        )  # fmt: skip
    return Completed(args, proc.returncode, proc.stdout or "", proc.stderr or "", log)


def _run_reading(
    args: tuple[str, ...], on_line: Callable[[str], None], env: dict[str, str] | None, cwd: Path | None
) -> Completed:
    """`run` with stderr read line by line (stdout kept in a temporary file meanwhile, so neither
    pipe can fill and stall the program); an interrupted caller stops the program too."""
    lines: list[str] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True, errors="replace"
        )
        try:
            for line in proc.stderr or ():
                lines.append(line)
                on_line(line)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
        out.seek(0)
        return Completed(args, code, out.read(), "".join(lines))


def check(result: Completed, what: str) -> Completed:
    """`result` when the command succeeded; else CommandFailed saying `what` failed, with the exit
    code and the last lines of its log (or of its captured output)."""
    if result.ok:
        return result
    if result.log is not None:
        message = f"{what} failed (exit {result.code}); last lines of {result.log}:\n{result.said()}"
    else:
        said = result.said()
        message = f"{what} failed (exit {result.code})" + (f":\n{said}" if said else "")
    raise CommandFailed(message, result)


def run_logged(
    argv: Sequence[str | Path],
    log: Path,
    what: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    heartbeat: Callable[[float], None] | None = None,
    every: float = 30.0,
) -> Completed:
    """A build step: its output appended to `log`, a failure raised as CommandFailed quoting the log's end."""
    return check(run(argv, log=log, env=env, cwd=cwd, heartbeat=heartbeat, every=every), what)


def _stderr_fd() -> int:
    """Our stderr's file descriptor (2 when sys.stderr is not a file, as under a test's capture)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return 2


@contextlib.contextmanager
def _beating(heartbeat: Callable[[float], None] | None, every: float) -> Iterator[None]:
    """Call `heartbeat(elapsed)` every `every` seconds from a thread until the block ends."""
    if heartbeat is None:
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(every):
            heartbeat(time.monotonic() - started)

    threading.Thread(target=beat, daemon=True).start()
    try:
        yield
    finally:
        done.set()
