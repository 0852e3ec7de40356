"""`fadi-seldon serve` in a subprocess, for the tests of both servers (the Seldon wrapper, MLServer).

The process tree is found through /proc (children, sessions), so a test that fails half-way still
stops every server process it started, including those re-parented away from the tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.runtime import processes


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def tree(pid: int) -> list[int]:
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def sessions(pids: list[int]) -> set[int]:
    out = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            out.add(os.getsid(pid))
    return out


def _background_job() -> None:
    """Start as a shell starts `cmd &`: SIGINT ignored, so SIGINT stops serve only if serve handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ServeProcess:
    """`fadi-seldon serve ARGV` on free loopback ports; `venv_env` names the server's venv variable."""

    def __init__(self, venv_env: str, venv: Path, *argv: str, log: Path | None = None):
        """`log`: a file for the server's output (a test reads the wrapper's log), else pipes."""
        self.http, self.grpc, self.metrics = (processes.free_port() for _ in range(3))
        # a TMPDIR of the test's own, removed by close(): a server killed by the test (not stopped
        # by serve) leaves its session's temporary files there, not in /tmp
        self.tmp = Path(tempfile.mkdtemp(prefix="served-"))
        env = dict(os.environ, TMPDIR=str(self.tmp), **{venv_env: str(venv)})
        cmd = [sys.executable, "-m", "fadi_seldon", "serve", *argv, "--port", str(self.http)]
        cmd += ["--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics)]
        self.log = log
        with log.open("w") if log else contextlib.nullcontext(subprocess.PIPE) as out:
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if log else subprocess.PIPE,
                text=True,
                preexec_fn=_background_job,
            )
        self.url = f"http://127.0.0.1:{self.http}"
        self.sessions: set[int] = set()

    def wait_for(self, path: str, answered: Callable[[int, bytes], bool], timeout: float) -> float:
        """Seconds until GET `path` is `answered` (status, body); the server's sessions are noted then."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                output = self.log.read_text() if self.log else self.proc.communicate()[1]
                raise AssertionError(f"serve exited early: {output[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}{path}", timeout=1) as resp:
                    if answered(resp.status, resp.read()):
                        self.sessions = sessions(tree(self.proc.pid))
                        return time.monotonic() - start
            except OSError:
                time.sleep(0.05)
        raise AssertionError("serve did not become ready")

    def tree(self) -> list[int]:
        """fadi-seldon and every process of the server's sessions (the server, its workers)."""
        members = {pid for sid in self._sessions() for pid in processes.session_members(sid)}
        return [self.proc.pid, *sorted(members - {self.proc.pid})]

    def _sessions(self) -> set[int]:
        return (self.sessions | sessions(tree(self.proc.pid))) - {os.getsid(0)}

    def close(self, graceful: bool = False) -> None:
        """Stop it: with `graceful`, a SIGTERM as a user would send first (20 s); then whatever is
        left is killed, session by session."""
        if graceful and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        left = set(tree(self.proc.pid)[1:]) | {
            p for sid in self._sessions() for p in processes.session_members(sid)
        }
        for pid in left - {self.proc.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        shutil.rmtree(self.tmp, ignore_errors=True)
