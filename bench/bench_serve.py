"""Benchmark: `fadi-seldon serve` against the bare Seldon wrapper started by hand, side by side.

For each of the two ways of running the example iris model it measures
- start to first answer: spawn to the first 200 from /api/v1.0/predictions (median of STARTS runs);
- latency of sequential predictions over loopback (p50 / p99 of ROUNDS x REQUESTS), the two servers
  measured in alternating rounds so machine noise hits both alike.
Target (DESIGN.md): start <= 2 s and no added latency over the bare wrapper.
Usage: .venv/bin/python bench/bench_serve.py [--starts N] [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.model import serving  # noqa: E402
from fadi_seldon.runtime.processes import session_members  # noqa: E402

MODEL_DIR = ROOT / "examples" / "iris-model"
BODY = json.dumps({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}).encode()


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def predict_once(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1.0/predictions", BODY, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def first_answer(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            if predict_once(port) == 200:
                return
        time.sleep(0.01)
    raise SystemExit("no answer within the timeout")


class Server:
    """One server under test; `kind` is 'fadi-seldon serve' or 'bare wrapper'."""

    def __init__(self, kind: str, venv: Path):
        self.kind = kind
        self.venv = venv
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> float:
        http_port, grpc_port, metrics_port = free_ports(3)
        self.port = http_port
        ports = ["--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port)]
        if self.kind == "fadi-seldon serve":
            cmd = [
                sys.executable,
                "-m",
                "fadi_seldon",
                "serve",
                str(MODEL_DIR),
                "--port",
                str(http_port),
                *ports,
            ]
            env = dict(os.environ, FADI_SERVE_VENV=str(self.venv))
            cwd = None
        else:
            cmd = [str(self.venv / "bin" / serving.WRAPPER_SCRIPT), "IrisModel", "--service-type", "MODEL"]
            cmd += ["--http-port", str(http_port), *ports]
            env, cwd = dict(os.environ), MODEL_DIR
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        first_answer(http_port, self.proc)
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc is None:
            return
        sid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while session_members(sid) and time.monotonic() < deadline:
            self.proc.poll()
            time.sleep(0.05)
        for pid in session_members(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None


def latencies(port: int, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status = predict_once(port)
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"HTTP {status}")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    venv = serving.default_venv()
    serving.ensure_venv(venv, progress=lambda m: print(f"[bench] {m}"))
    kinds = ["fadi-seldon serve", "bare wrapper"]
    starts: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.starts):
        for kind in kinds:
            server = Server(kind, venv)
            try:
                starts[kind].append(server.start())
            finally:
                server.stop()
    servers = {k: Server(k, venv) for k in kinds}
    lat: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for s in servers.values():
            s.start()
            latencies(s.port, 200)  # warm-up
        for _ in range(args.rounds):
            for kind, s in servers.items():
                lat[kind] += latencies(s.port, args.requests)
    finally:
        for s in servers.values():
            s.stop()
    print(
        f"serve benchmark: example iris model, {args.rounds}x{args.requests} sequential requests each, loopback"
    )
    print(f"{'':20} {'start->1st answer s':>20} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for kind in kinds:
        values = lat[kind]
        print(
            f"{kind:20} {statistics.median(starts[kind]):>20.2f} {pct(values, 0.5) * 1e3:>8.2f} "
            f"{pct(values, 0.99) * 1e3:>8.2f} {len(values) / sum(values):>7.0f}"
        )
    added = (pct(lat[kinds[0]], 0.5) - pct(lat[kinds[1]], 0.5)) * 1e3
    print(
        f"added p50 latency of fadi-seldon serve: {added:+.2f} ms (target: none; the request path is the same)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
