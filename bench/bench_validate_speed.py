"""`fadi-seldon validate` beside kubeconform on one large file: documents per second and peak memory.

The file: every SeldonDeployment of the conformance corpus (../shared/conformance, valid and
invalid), repeated to 18,000 documents in one multi-document YAML file (about 13 MB). Both tools
read it from disk in the same run, each timed as a whole command (start-up included):

- on one core (`taskset -c 0`): `validate` vs `kubeconform -n 1`;
- on all the cores this process may use: `validate --jobs N` vs `kubeconform -n N`.

kubeconform checks what a JSON schema says (the CRD's openAPIV3Schema of each version, written from
`fadi-seldon crd -o json` as `{kind}_{version}.json`, with `-strict` for unknown fields and nothing
skipped); `validate` checks that and the webhook's rules, the CRD's CEL rules, the names and pod
templates the operator derives, and locates each finding at file:line:column. kubeconform is built
for this bench only, from its Go module (`go install` into .tools/bench-bin, not committed); without
Go or the module proxy, `validate` is measured alone.

Peak memory: the largest process (as /usr/bin/time reports it) and, for several processes, the sum
of their proportional set sizes (PSS, sampled every 20 ms: what the run costs the machine). Best of
ROUNDS runs, the tools alternating. Plain figures, no assertions.

Usage: .venv/bin/python bench/bench_validate_speed.py [--documents 18000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.sdep.validator import loading  # noqa: E402

CORPUS = ROOT.parent / "shared" / "conformance"
FADI_SELDON = ROOT / ".venv" / "bin" / "fadi-seldon"
BENCH_BIN = ROOT / ".tools" / "bench-bin"
KUBECONFORM_MODULE = "github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"
GO_CANDIDATES = ("go", "/usr/local/go/bin/go")


@dataclass
class Run:
    seconds: float  # wall clock
    cpu: float  # user + system, the command and its children
    max_rss_mb: float  # the largest process
    pss_mb: float  # the process tree's proportional set sizes, summed (sampled peak)


def build_input(folder: Path, count: int) -> Path:
    """The corpus's SeldonDeployments, each dumped as YAML, repeated to `count` documents."""
    texts = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.suffix in loading.MANIFEST_SUFFIXES):
        for item in loading.documents(loading.read_path(path)):
            data = getattr(item, "data", None)
            if isinstance(data, dict) and data.get("kind") == "SeldonDeployment":
                texts.append(yaml.safe_dump(data, sort_keys=False))
    target = folder / "seldondeployments.yaml"
    with target.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write("---\n" + texts[i % len(texts)])
    return target


def kubeconform_schemas(folder: Path) -> str:
    """kubeconform's schema location: the CRD's openAPIV3Schema per version, `{kind}_{version}.json`."""
    crd = json.loads(
        subprocess.run([str(FADI_SELDON), "crd", "-o", "json"], check=True, capture_output=True).stdout
    )
    kind = crd["spec"]["names"]["kind"].lower()
    for version in crd["spec"]["versions"]:
        (folder / f"{kind}_{version['name']}.json").write_text(
            json.dumps(version["schema"]["openAPIV3Schema"])
        )
    return str(folder / "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")


def kubeconform() -> Path | None:
    """kubeconform built from its Go module into .tools/bench-bin (once), or None with the reason said."""
    binary = BENCH_BIN / "kubeconform"
    if binary.is_file():
        return binary
    go = next((g for g in GO_CANDIDATES if shutil.which(g)), None)
    if go is None:
        print("kubeconform: no Go toolchain found; measuring validate alone")
        return None
    env = dict(os.environ, GOBIN=str(BENCH_BIN), GOFLAGS="-mod=mod")
    done = subprocess.run([go, "install", KUBECONFORM_MODULE], env=env, capture_output=True, text=True)
    if done.returncode != 0 or not binary.is_file():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"kubeconform: `go install {KUBECONFORM_MODULE}` failed ({reason}); measuring validate alone")
        return None
    return binary


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                continue
    return found


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(argv: list[str]) -> Run:
    """Run a command (output discarded); wall and CPU time, the largest RSS, the peak summed PSS."""
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], sum(_pss_kb(p) for p in _tree(proc.pid)))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, _, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = 0  # reaped by wait4
    stop.set()
    sampler.join()
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 1024)


def best(runs: list[Run]) -> Run:
    fastest = min(runs, key=lambda r: r.seconds)
    return Run(fastest.seconds, fastest.cpu, max(r.max_rss_mb for r in runs), max(r.pss_mb for r in runs))


def report(name: str, run: Run, documents: int) -> None:
    print(
        f"  {name:<44} {documents / run.seconds:>8,.0f} docs/s  {run.seconds:6.2f} s  cpu {run.cpu:6.2f} s  "
        f"max RSS {run.max_rss_mb:6.1f} MB  PSS sum {run.pss_mb:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=18_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"conformance corpus not found at {CORPUS}: nothing to measure")
        return
    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-validate-speed-") as tmp:
        folder = Path(tmp)
        data = build_input(folder, args.documents)
        (folder / "schemas").mkdir()
        location = kubeconform_schemas(folder / "schemas")
        binary = kubeconform()
        one, every = ["taskset", "-c", str(cores[0])], ["taskset", "-c", ",".join(map(str, cores))]
        n = str(len(cores))
        commands = {
            "validate (one core)": [*one, str(FADI_SELDON), "validate", str(data)],
            f"validate --jobs {n} (all cores)": [
                *every,
                str(FADI_SELDON),
                "validate",
                "--jobs",
                n,
                str(data),
            ],
        }
        if binary is not None:
            kc = [str(binary), "-strict", "-schema-location", location]
            commands["kubeconform -n 1 (one core)"] = [*one, *kc, "-n", "1", str(data)]
            commands[f"kubeconform -n {n} (all cores)"] = [*every, *kc, "-n", n, str(data)]
        results: dict[str, list[Run]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                results[name].append(measure(argv))
        size = data.stat().st_size / 1e6
        print(f"input: {args.documents:,} SeldonDeployments, {size:.1f} MB, one file; {len(cores)} core(s)")
        print(f"best of {args.rounds} (wall clock, start-up included):")
        order = sorted(commands, key=lambda name: ("all cores" in name, name))
        for name in order:
            report(name, best(results[name]), args.documents)


if __name__ == "__main__":
    main()
