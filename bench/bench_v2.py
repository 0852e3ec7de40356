"""Benchmark: MLServer (protocol v2) beside the Seldon wrapper (protocol seldon) on iris, in one run.

Two ways a data scientist serves an iris classifier locally, each through `fadi-seldon serve`:
- v2: examples/sklearn-iris trained here (LogisticRegression) as SKLEARN_SERVER on MLServer 1.3.5;
- seldon: examples/iris-model (numpy softmax) with the Seldon wrapper 1.17.1.
For each: start to first answer (spawn of `serve` to the first 200 of an inference; median of STARTS)
and the p50 / p99 latency of sequential requests of one row over loopback (ROUNDS x REQUESTS, the two
servers in alternating rounds so machine noise hits both alike). Plain figures, no target.
Usage: .venv/bin/python bench/bench_v2.py [--starts N] [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.model import mlserver, serving  # noqa: E402
from fadi_seldon.runtime import processes  # noqa: E402

ROW = [5.1, 3.5, 1.4, 0.2]
V2_BODY = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}).encode()
SELDON_BODY = json.dumps({"data": {"ndarray": [ROW]}}).encode()


class Way:
    """One way of serving: the `serve` arguments and the request that asks it."""

    def __init__(self, name: str, argv: list[str], path: str, body: bytes):
        self.name, self.argv, self.path, self.body = name, argv, path, body
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        self.port, grpc, metrics = (processes.free_port() for _ in range(3))
        cmd = [sys.executable, "-m", "fadi_seldon", "serve", *self.argv, "--port", str(self.port)]
        cmd += ["--grpc-port", str(grpc), "--metrics-port", str(metrics)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ask(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", self.path, self.body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def first_answer(self, timeout: float = 90) -> float:
        start = time.monotonic()
        self.start()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name}: serve exited with {self.proc.returncode}")
            try:
                if self.ask() == 200:
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.01)
        raise SystemExit(f"{self.name}: no answer within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def prepare(artifact: Path) -> None:
    """Both venvs (created once) and the sklearn artifact, trained by the serving venv's scikit-learn."""
    serving.ensure_venv(serving.default_venv(), progress=lambda m: print(f"[bench] {m}"))
    venv = mlserver.default_venv()
    mlserver.ensure_venv(venv, ("mlserver-sklearn",), progress=lambda m: print(f"[bench] {m}"))
    train = ROOT / "examples" / "sklearn-iris" / "train.py"
    subprocess.run(
        [str(venv / "bin" / "python"), str(train), str(artifact)], check=True, stdout=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server (3)")
    parser.add_argument("--requests", type=int, default=200, help="requests per round (200)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    args = parser.parse_args()
    artifact = Path(tempfile.mkdtemp(prefix="bench-v2-")) / "iris"
    prepare(artifact)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    ways = [
        Way("MLServer v2 (SKLEARN_SERVER)",
            ["--server", "SKLEARN_SERVER", "--model-uri", str(artifact), "--protocol", "v2", "--name", "iris"],
            "/v2/models/iris/infer", V2_BODY),
        Way("Seldon wrapper (iris-model)", [str(ROOT / "examples" / "iris-model")],
            "/api/v1.0/predictions", SELDON_BODY),
    ]  # fmt: skip
    starts: dict[str, list[float]] = {w.name: [] for w in ways}
    for _ in range(args.starts):
        for way in ways:
            try:
                starts[way.name].append(way.first_answer())
            finally:
                way.stop()
    latencies: dict[str, list[float]] = {w.name: [] for w in ways}
    try:
        for way in ways:
            way.first_answer()
            for _ in range(20):  # warm-up
                way.ask()
        for _ in range(args.rounds):
            for way in ways:
                for _ in range(args.requests):
                    begin = time.perf_counter()
                    assert way.ask() == 200
                    latencies[way.name].append((time.perf_counter() - begin) * 1000)
    finally:
        for way in ways:
            way.stop()
    print(f"\n{'server':<32} {'start->answer (s)':>18} {'p50 (ms)':>9} {'p99 (ms)':>9}  n")
    for way in ways:
        lat = latencies[way.name]
        print(
            f"{way.name:<32} {statistics.median(starts[way.name]):>18.2f} {percentile(lat, 0.5):>9.2f} "
            f"{percentile(lat, 0.99):>9.2f}  {len(lat)}"
        )


if __name__ == "__main__":
    main()
