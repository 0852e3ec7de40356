"""The cluster suite's traffic client, without a cluster: how failures are grouped into windows."""

from __future__ import annotations

import pytest

from cluster.traffic import Traffic
from fadi_seldon.runtime import polling


def test_failures_are_grouped_into_windows_by_the_gap_between_them():
    traffic = Traffic("http://127.0.0.1:1")
    traffic.failed_at = [10.0, 10.2, 10.9, 30.0, 30.05, 61.0]
    assert traffic.failure_windows() == pytest.approx([0.9, 0.05, 0.0])
    assert traffic.failure_window() == 51.0
    traffic.failed_at = []
    assert traffic.failure_windows() == [] and traffic.failure_window() == 0.0


def test_a_closed_port_counts_as_a_failure_with_its_reason():
    with Traffic("http://127.0.0.1:1", every=0.01, timeout=1) as traffic:
        polling.wait_until("three failed requests", lambda: traffic.failed >= 3, timeout=10, every=0.01)
    assert traffic.ok == 0 and traffic.failed >= 3
    assert all("refused" in e for e in traffic.errors)
