"""runtime.statedir.StateDir: the state folder shared by the control plane and the operator runner."""

from __future__ import annotations

import io
import json
import stat
import threading
import time

from fadi_seldon.runtime.statedir import StateDir


def test_save_stamps_the_version_and_load_reads_only_that_version(tmp_path):
    folder = StateDir(tmp_path / "s", version=3, prefix="[t]")
    assert folder.load() == {} and folder.load_any() == {}
    state = {"processes": [], "release": "r"}
    folder.save(state)
    assert state["version"] == 3
    assert json.loads(folder.state_file.read_text()) == {"processes": [], "release": "r", "version": 3}
    assert folder.state_file.read_text().endswith("}\n")
    assert folder.load() == {"processes": [], "release": "r", "version": 3}
    older = StateDir(tmp_path / "s", version=2, prefix="[t]")
    assert older.load() == {}, "a state of another version is not this version's"
    assert older.load_any()["release"] == "r", "but it can still be read to clean up after it"
    # no temporary file is left beside it
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["state.json"]


def test_unreadable_or_foreign_state_is_empty(tmp_path):
    folder = StateDir(tmp_path, version=1, prefix="[t]")
    folder.state_file.write_text("{not json")
    assert folder.load() == {} and folder.load_any() == {}
    folder.state_file.write_text("[1, 2]")
    assert folder.load_any() == {}
    folder.remove()
    folder.remove()  # twice is fine
    assert not folder.state_file.exists()


def test_say_prefixes_and_is_silent_without_an_output(tmp_path):
    out = io.StringIO()
    StateDir(tmp_path, version=1, prefix="[cluster]", out=out).say("  etcd ready")
    assert out.getvalue() == "[cluster]   etcd ready\n"
    StateDir(tmp_path, version=1, prefix="[operator]").say("nobody hears this")


def test_locked_makes_the_folder_private_and_serialises_commands(tmp_path):
    out = io.StringIO()
    first = StateDir(tmp_path / "s", version=1, prefix="[t]")
    second = StateDir(tmp_path / "s", version=1, prefix="[t]", out=out)
    order = []
    with first.locked():
        assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700

        def other():
            with second.locked("another `t` command"):
                order.append("second")

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]
    assert out.getvalue() == f"[t] waiting for another `t` command on {tmp_path / 's'} ...\n"
