"""A folder holding the state of host processes: a versioned state.json, a lock, progress notes.

Used by the local control plane (`cluster up|down`) and the operator runner (`cluster operator`):
- `load()` returns the state only when its version is the current one ({} otherwise: missing,
  unreadable, or written by another version); `load_any()` returns whatever is there, for cleanup;
- `save()` stamps the version and replaces the file atomically (runtime.files.atomic_write);
- `locked()` serialises commands on the same folder (one `up`/`down`/`start` at a time), saying so
  when it has to wait; the folder is made owner-only, as keys and tokens live below it;
- `say()` prints one progress line with the owner's prefix ("[cluster]", "[operator]"), or
  nothing when there is no output stream.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from fadi_seldon.runtime.files import atomic_write

STATE_FILE = "state.json"
LOCK_FILE = ".lock"


class StateDir:
    def __init__(self, root: Path, *, version: int, prefix: str, out: TextIO | None = None) -> None:
        self.root = Path(root)
        self.version = version
        self.prefix = prefix
        self.out = out

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    def say(self, message: str) -> None:
        if self.out is not None:
            print(f"{self.prefix} {message}", file=self.out, flush=True)

    def load_any(self) -> dict:
        """The state as written, whatever its version; {} when missing or unreadable."""
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self) -> dict:
        """The state when written by this version; {} otherwise."""
        data = self.load_any()
        return data if data.get("version") == self.version else {}

    def save(self, state: dict) -> None:
        state["version"] = self.version
        atomic_write(self.state_file, json.dumps(state, indent=2) + "\n")

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # kubeconfigs with tokens and private keys live here

    @contextlib.contextmanager
    def locked(self, waiting: str = "another command") -> Iterator[None]:
        """Exclusive use of the folder for the `with` block; says `waiting for <waiting>` when it must wait."""
        self.ensure()
        with open(self.lock_file, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say(f"waiting for {waiting} on {self.root} ...")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield
