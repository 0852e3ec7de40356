"""Starting and stopping the control-plane processes, and recognising them later.

A PID alone is not an identity: after a crash or a reboot the number can belong to an
unrelated program. A record therefore keeps the kernel's start time of the process
(/proc/PID/stat field 22); a PID whose start time differs is treated as gone. Each process we
start runs in its own session (process group), so stopping it also stops anything it spawned.

The one implementation for the package: the control plane, the operator runner and `serve` (the
Seldon wrapper) all stop their processes with `stop`/`stop_pid`/`stop_session`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fadi_seldon.runtime.polling import ended_within


@dataclass
class ProcessRecord:
    name: str
    pid: int
    start_time: int | None
    argv: list[str]
    log: str
    port: int | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ProcessRecord:
        return cls(
            **{k: data[k] for k in ("name", "pid", "start_time", "argv", "log")},
            port=data.get("port"),
            extra=dict(data.get("extra") or {}),
        )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return raw[raw.rfind(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def is_running(pid: int, expected_start: int | None = None) -> bool:
    """Alive, not a zombie, and (when known) the same process that was started."""
    fields = _stat_fields(pid)
    if fields is None:
        if not Path("/proc").is_dir():  # macOS: no procfs, fall back to signal 0
            try:
                os.kill(pid, 0)
            except OSError:
                return False
            return True
        return False
    if fields[0] in ("Z", "X"):
        _reap(pid)
        return False
    return expected_start is None or int(fields[19]) == expected_start


def _reap(pid: int) -> None:
    """Collect the exit status of our own dead children so they do not linger as zombies."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def spawn(
    name: str, argv: list[str], log: Path, env: dict[str, str] | None = None, port: int | None = None
) -> ProcessRecord:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: stopped as a whole, immune to the caller's Ctrl-C
            close_fds=True,
        )
    return ProcessRecord(
        name=name, pid=proc.pid, start_time=start_time(proc.pid), argv=argv, log=str(log), port=port
    )


def stop(record: ProcessRecord, timeout: float = 10.0, alone: bool = False) -> bool:
    """SIGTERM the process group (`alone`: the process only), SIGKILL after `timeout`. True when
    something was stopped."""
    if not is_running(record.pid, record.start_time):
        return False
    return stop_pid(record.pid, timeout, alone)


def stop_pid(pid: int, timeout: float = 10.0, alone: bool = False) -> bool:
    """Stop `pid`: its whole session when it leads one (we start every process so), else, or with
    `alone`, itself alone."""
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return False
    # only signal a group the process leads (we start each process as a session leader);
    # never the caller's own group
    if pgid == pid and pgid != os.getpgid(0) and not alone:
        stop_session(pid, timeout)
        return True
    _signal(pid, None, signal.SIGTERM)
    if not ended_within(lambda: not is_running(pid), timeout):
        _signal(pid, None, signal.SIGKILL)
        ended_within(lambda: not is_running(pid), 5.0)
    return True


def stop_session(leader: int, timeout: float = 10.0, poll: Callable[[], object] | None = None) -> None:
    """Stop a process started with `start_new_session` and every process of its group and session.

    SIGTERM to the group; once the leader and every member of the session are gone (or after
    `timeout` seconds), SIGKILL whatever is left, including members that moved to another group.
    Works after the leader has exited too: its orphans keep the group and session ids.
    `poll` (e.g. `subprocess.Popen.poll`) lets the caller collect the leader's exit status itself,
    before the generic check here would reap it.
    """

    def ended() -> bool:
        if poll is not None:
            poll()
        return not is_running(leader) and not session_members(leader)

    _signal(leader, leader, signal.SIGTERM)
    if not ended_within(ended, timeout):
        for pid in session_members(leader):
            _signal(pid, None, signal.SIGKILL)
    _signal_group_leftovers(leader)
    ended_within(ended, 5.0)


def session_members(sid: int) -> list[int]:
    """PIDs of the live processes (zombies excluded) whose session id is `sid`, from /proc."""
    out: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return out
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # after the command: state ppid pgrp session ...
        if fields and len(fields) > 3 and int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            out.append(int(entry.name))
    return out


def _signal(pid: int, pgid: int | None, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pgid is not None:
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)


def _signal_group_leftovers(pgid: int | None) -> None:
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def processes_mentioning(marker: str, programs: tuple[str, ...]) -> list[int]:
    """PIDs of `programs` whose command line contains `marker` (the state folder).

    These are leftovers of a run whose state file was lost; both conditions must hold, so a
    user's own `kubectl --kubeconfig .cluster/kubeconfig` is never touched.
    """
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not argv or Path(argv[0]).name not in programs:
            continue
        if any(marker in arg for arg in argv[1:]) and is_running(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
