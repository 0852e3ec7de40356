"""Starting and stopping the control-plane processes, and recognising them later.

A PID alone is not an identity: after a crash or a reboot the number can belong to an
unrelated program. A record therefore keeps the kernel's start time of the process
(/proc/PID/stat field 22); a PID whose start time differs is treated as gone. Each component
runs in its own session (process group), so stopping it also stops anything it spawned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


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


def stop(record: ProcessRecord, timeout: float = 10.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`. True when something was stopped."""
    if not is_running(record.pid, record.start_time):
        return False
    return stop_pid(record.pid, timeout)


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return False
    # only signal a group the process leads (we start each component as a session leader);
    # never the caller's own group
    target = pgid if pgid == pid and pgid != os.getpgid(0) else None
    _signal(pid, target, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            _signal_group_leftovers(target)
            return True
        time.sleep(0.05)
    _signal(pid, target, signal.SIGKILL)
    for _ in range(100):
        if not is_running(pid):
            break
        time.sleep(0.05)
    return True


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
    found = []
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
