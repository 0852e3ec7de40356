"""Writing files so that a reader never sees half of one, and secrets are never readable by others.

One implementation for the whole package: the data goes to a temporary file in the same folder,
created with its final permissions (`os.open(..., mode)`: a token or a private key is never
world-readable, not even for the time between the write and a later chmod), flushed to disk,
then renamed over the target (atomic on POSIX). A failure leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600  # tokens, private keys, kubeconfigs
PUBLIC = 0o644  # everything else a user reads
EXECUTABLE = 0o755


@contextlib.contextmanager
def atomic_stream(path: str | Path, mode: int = PUBLIC) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` complete or not at all: written to a temporary file of
    the same folder (with `mode` from its creation on), flushed to disk, then renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp creates 0600; set the final mode before any byte is written
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, data: bytes | str, mode: int = PUBLIC) -> Path:
    """Replace `path` with `data` atomically; the file has `mode` from its creation on."""
    with atomic_stream(path, mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
