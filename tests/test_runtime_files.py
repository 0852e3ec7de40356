"""runtime.files.atomic_write: permissions from creation, atomic replacement, nothing left on failure."""

from __future__ import annotations

import os
import stat

import pytest

from fadi_seldon.runtime import files


def test_writes_text_and_bytes_with_the_mode_asked(tmp_path):
    secret = files.atomic_write(tmp_path / "a" / "token", "s3cret", files.PRIVATE)
    assert secret.read_text() == "s3cret" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    public = files.atomic_write(tmp_path / "b", b"\x00\x01")
    assert public.read_bytes() == b"\x00\x01" and stat.S_IMODE(public.stat().st_mode) == 0o644


def test_the_temporary_file_is_private_before_any_byte_is_written(tmp_path, monkeypatch):
    seen = []
    real_fdopen = os.fdopen

    def spy(fd, *args, **kwargs):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", spy)
    files.atomic_write(tmp_path / "key", "k", files.PRIVATE)
    assert seen == [0o600]


def test_replaces_an_existing_file_and_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "values.yaml"
    target.write_text("old")
    files.atomic_write(target, "new")
    assert target.read_text() == "new"

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError):
        files.atomic_write(target, "newer")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["values.yaml"]
