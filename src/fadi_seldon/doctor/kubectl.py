"""kubectl, as the doctor runs it: `get -o json` and logs, a failure said in kubectl's own words.

kubectl handles every kind of kubeconfig auth, which is why the doctor reads the cluster through it.
"""

from __future__ import annotations

import json
import re
import shutil

from fadi_seldon.runtime import commands


class DoctorError(RuntimeError):
    """The cluster could not be read at all (no kubectl, unreachable, forbidden). `unreachable`:
    there is no cluster to read (no kubeconfig, nothing answering), as opposed to one refusing."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


# kubectl's words for "nothing answers there" (no kubeconfig falls back to localhost:8080)
_UNREACHABLE = (
    "connection to the server",
    "unable to connect to the server",
    "connection refused",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "handshake timeout",
    "network is unreachable",
    "no route to host",
    "no configuration has been provided",
)
# klog's prefix (`E1206 05:14:04.858629   15534 memcache.go:265] ...`): a log line, not the message
_KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s")


def kubectl_problem(stderr: str) -> tuple[str, bool]:
    """kubectl's own summary of a failure (its last line that is not a log line, without `error: `),
    and whether it says the cluster cannot be reached."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not _KLOG_LINE.match(ln.strip())]
    last = lines[-1] if lines else (stderr.strip().splitlines() or ["no message"])[-1]
    last = re.sub(r"^error:\s*", "", _KLOG_LINE.sub("", last), flags=re.I)
    return last, any(marker in stderr.lower() for marker in _UNREACHABLE)


class Kubectl:
    """kubectl with the user's kubeconfig and context, each call through the runtime's runner: a
    timeout so a silent cluster never hangs the doctor, a failure in kubectl's own words."""

    def __init__(
        self, exe: str | None = None, kubeconfig: str | None = None, context: str | None = None
    ) -> None:
        self.exe = exe or _kubectl()
        if not self.exe:
            raise DoctorError("kubectl is not installed: run `make tools TOOLS=cluster` or install kubectl")
        self.base = [self.exe]
        if kubeconfig:
            self.base.append(f"--kubeconfig={kubeconfig}")
        if context:
            self.base.append(f"--context={context}")

    def get(self, *args: str, missing_ok: bool = True) -> dict | None:
        try:
            proc = commands.run([*self.base, "get", *args, "-o", "json", "--request-timeout=20s"], timeout=60)
        except commands.TimeoutExpired:
            raise DoctorError(
                f"cannot reach the cluster: `kubectl get {' '.join(args)}` did not answer within 60 s",
                unreachable=True,
            ) from None
        if not proc.ok:
            err = proc.stderr.strip()
            if missing_ok and ("NotFound" in err or "not found" in err):
                return None
            problem, unreachable = kubectl_problem(err)
            if unreachable:
                raise DoctorError(f"cannot reach the cluster: {problem}", unreachable=True)
            raise DoctorError(f"`kubectl get {' '.join(args)}` failed: {problem}")
        return json.loads(proc.stdout)

    def apply(self, docs: list[dict]) -> None:
        """`kubectl apply` of manifests (JSON is YAML), server-side defaults; a failure in kubectl's words."""
        text = "\n".join(json.dumps(doc) for doc in docs)
        try:
            proc = commands.run(
                [*self.base, "apply", "-f", "-", "--request-timeout=30s"], input=text, timeout=90
            )
        except commands.TimeoutExpired:
            raise DoctorError(
                "cannot reach the cluster: `kubectl apply` did not answer within 90 s", True
            ) from None
        if not proc.ok:
            problem, unreachable = kubectl_problem(proc.stderr)
            raise DoctorError(f"`kubectl apply` failed: {problem}", unreachable=unreachable)

    def logs(
        self, pod: dict, *, previous: bool, tail: str, container: str | None = None, since: str | None = None
    ) -> str:
        """A pod's log, all its containers' or one's ("" when there is none: no previous container,
        a container not started or absent)."""
        meta = pod["metadata"]
        argv = [*self.base, "logs", meta["name"], "-n", meta["namespace"], f"--tail={tail}"]
        argv += ["-c", container] if container else ["--all-containers"]
        if since:
            argv.append(f"--since={since}")
        if previous:
            argv.append("--previous")
        try:
            proc = commands.run(argv, timeout=60)
        except commands.TimeoutExpired:
            return ""
        return proc.stdout if proc.ok else ""

    def server(self) -> str:
        proc = commands.run(
            [*self.base, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]
        )
        return proc.stdout.strip() if proc.ok else "?"


def _kubectl() -> str | None:
    """The project's pinned kubectl (`make tools`) if installed, else the one on PATH."""
    from fadi_seldon import tools as toolchain

    pinned = toolchain.default_tools_dir() / "bin" / "kubectl"
    return str(pinned) if pinned.is_file() else shutil.which("kubectl")
