"""`validate --jobs N`: inputs spread over N processes, large files cut at document starts.

A YAML stream can be cut before any line that starts a document (`---`): the parser begins there
in the state it would be in anyway, so each piece is parsed and checked on its own, by any process,
and only its document numbers and lines need shifting (loading.scan_file notes where to cut, and
refuses to cut files whose line breaks or %directives would make that untrue). Results come back in
input order; the parent renumbers the documents and yields them, so the CLI prints exactly what one
process would. A piece that ends in a syntax error is read on to the end of its file, as one process
would have read it, and the file's later pieces are dropped: reading stops at the first error.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from fadi_seldon.sdep.validator import checking
from fadi_seldon.sdep.validator.findings import Report
from fadi_seldon.sdep.validator.loading import Scan, Source

MIN_CUT = 64 * 1024  # bytes: smaller pieces cost more in messages than they save
MAX_CUT = 1 << 20  # bytes: pieces small enough to keep every process busy to the end
PIECES_PER_JOB = 4

Task = tuple[int, Report | Source]  # (input number, ready report or source to check)
Result = tuple[int, Report, int, bool]  # (input number, report, documents read, reading stopped)

_SERVERS: set[str] | None = None


def stream(paths: list[str], servers: set[str] | None, jobs: int) -> Iterator[Report]:
    """The reports of the inputs, as validator.stream_paths gives them with one process."""
    checking.warm()  # compiled once here, inherited by forked workers
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    with context.Pool(jobs, initializer=_start_worker, initargs=(servers,)) as pool:
        shift: dict[int, int] = {}  # documents read in an input's earlier pieces
        stopped: set[int] = set()
        for number, report, count, stop in pool.imap(_check, _tasks(paths, jobs)):
            if number in stopped:
                continue
            offset = shift.get(number, 0)
            if offset:
                for finding in report.findings:
                    finding.document += offset
            shift[number] = offset + count
            if stop:
                stopped.add(number)
            yield report


def _tasks(paths: list[str], jobs: int) -> Iterator[Task]:
    """Every input as one task, a large YAML file as one task per piece."""

    def cut_every(path: Path) -> int | None:
        try:
            size = path.stat().st_size
        except OSError:
            return None  # the scan says why it cannot be read
        return max(MIN_CUT, min(MAX_CUT, size // (jobs * PIECES_PER_JOB)))

    for number, item in enumerate(checking.inputs(paths, cut_every)):
        if isinstance(item, Report):
            yield number, item
            continue
        source, scan = item
        for piece in _pieces(source, scan):
            yield number, piece


def _pieces(source: Source, scan: Scan | None) -> list[Source]:
    if source.text is not None or scan is None or not scan.cuts:
        return [source]
    starts = [(0, 0), *scan.cuts]
    ends = [at for at, _ in scan.cuts] + [None]
    return [
        replace(source, start=start, end=end, line_offset=lines)
        for (start, lines), end in zip(starts, ends, strict=True)
    ]


def _start_worker(servers: set[str] | None) -> None:
    """Ctrl-C is the parent's to handle (it stops the pool): workers do not print tracebacks."""
    global _SERVERS
    _SERVERS = servers
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check(task: Task) -> Result:
    number, item = task
    if isinstance(item, Report):
        return number, item, 0, False
    report, count, failed = _read(item)
    if failed and item.end is not None:  # the error may lie after the cut: read on as one process would
        report, count, _ = _read(replace(item, end=None))
        return number, report, count, True
    return number, report, count, failed


def _read(source: Source) -> tuple[Report, int, bool]:
    report, count = Report(), 0
    for index, part in checking.check_source(source, _SERVERS):
        report.merge(part)
        count = index
    return report, count, any(f.rule == "yaml-syntax" for f in report.findings)


def default_jobs() -> int:
    """One process per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
