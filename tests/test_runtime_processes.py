"""runtime.processes: sessions and their stop, the one copy used by the cluster, the operator and `serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fadi_seldon.model import serving
from fadi_seldon.runtime import polling, processes

# The leader forks a child that writes its PID, then: `group` (stay in the leader's process group),
# or `own-group` (leave the group but stay in the session, and ignore SIGTERM: only SIGKILL to the
# session's members ends it).
CHILD = """
import os, signal, sys, time
mode, pidfile = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    if mode == "own-group":
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(pidfile + ".tmp", "w").write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(120)
    sys.exit(0)
if sys.argv[3] == "leader-ignores-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[3] != "leader-exits":
    time.sleep(120)
"""


def _start(tmp_path: Path, mode: str, leader: str = "") -> tuple[subprocess.Popen, int]:
    pidfile = tmp_path / f"child-{mode}-{leader}.pid"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(pidfile), leader or "-"], start_new_session=True
    )
    polling.wait_until("the child's pid file", pidfile.exists, timeout=10, every=0.02)
    return proc, int(pidfile.read_text())


def _cleanup(*pids: int) -> None:
    for pid in pids:
        if processes.is_running(pid):
            os.kill(pid, 9)


def test_session_members_lists_the_live_processes_of_a_session(tmp_path):
    proc, child = _start(tmp_path, "own-group")
    try:
        assert sorted(processes.session_members(proc.pid)) == sorted([proc.pid, child])
        assert os.getpid() not in processes.session_members(proc.pid)
        assert serving.session_members is processes.session_members  # one copy, still reachable there
    finally:
        _cleanup(child, proc.pid)
        proc.wait()


def test_stop_session_kills_members_that_left_the_group_and_ignore_sigterm(tmp_path):
    proc, child = _start(tmp_path, "own-group")
    try:
        processes.stop_session(proc.pid, timeout=0.5, poll=proc.poll)
        assert not processes.is_running(child)
        assert processes.session_members(proc.pid) == []
        assert proc.wait(timeout=5) == -15  # the leader's own status, collected by the caller's poll
    finally:
        _cleanup(child, proc.pid)


def test_stop_session_works_after_the_leader_has_exited(tmp_path):
    proc, child = _start(tmp_path, "group", "leader-exits")
    try:
        assert proc.wait(timeout=10) == 0
        assert processes.is_running(child), "the orphan keeps the leader's group and session"
        processes.stop_session(proc.pid, timeout=5)
        assert polling.ended_within(lambda: not processes.is_running(child), 5)
    finally:
        _cleanup(child)


def test_a_leader_ignoring_sigterm_is_killed_after_the_grace_time(tmp_path):
    proc, child = _start(tmp_path, "group", "leader-ignores-term")
    try:
        processes.stop_session(proc.pid, timeout=0.3, poll=proc.poll)
        assert proc.wait(timeout=5) == -9
        assert not processes.is_running(child)
    finally:
        _cleanup(child, proc.pid)


def test_stop_pid_of_a_recorded_leader_stops_its_whole_session(tmp_path):
    rec = processes.spawn(
        "leader", [sys.executable, "-c", CHILD, "own-group", str(tmp_path / "c.pid"), "-"], tmp_path / "l.log"
    )
    polling.wait_until("the child's pid file", (tmp_path / "c.pid").exists, timeout=10, every=0.02)
    child = int((tmp_path / "c.pid").read_text())
    try:
        assert processes.stop(rec, timeout=0.5) is True
        assert not processes.is_running(rec.pid) and not processes.is_running(child)
        assert processes.stop(rec) is False
    finally:
        _cleanup(child, rec.pid)


def test_stop_alone_leaves_the_leaders_children_running(tmp_path):
    """`alone` (a containerd restart, as systemd's KillMode=process): the leader stops, the processes
    it started keep running, as containerd's shims keep the pods' containers."""
    rec = processes.spawn(
        "leader", [sys.executable, "-c", CHILD, "own-group", str(tmp_path / "c.pid"), "-"], tmp_path / "l.log"
    )
    polling.wait_until("the child's pid file", (tmp_path / "c.pid").exists, timeout=10, every=0.02)
    child = int((tmp_path / "c.pid").read_text())
    try:
        assert processes.stop(rec, timeout=2, alone=True) is True
        assert not processes.is_running(rec.pid)
        assert processes.is_running(child)
    finally:
        _cleanup(child, rec.pid)
