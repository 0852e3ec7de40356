"""Run the real Seldon Core operator as a host process, configured exactly as the chart configures it.

The local cluster has no container runtime: kwok plays the kubelet, so the operator Deployment the
chart installs never runs any code. This module runs the operator binary (1.17.1, built from Seldon's
source release, tool `seldon-operator`) next to the cluster instead, and takes everything it needs from the
chart's own output, so a test that passes here proves the chart's configuration, not a copy of it:

- arguments and environment: from the installed release's rendered Deployment(s), with the
  `$(VAR)` references and `fieldRef`s Kubernetes would resolve;
- identity: a kubeconfig holding a TokenRequest token of the chart's ServiceAccount, so the chart's
  RBAC is exactly what the operator gets;
- webhook TLS: the certificate from the chart's Secret, served where the chart value `webhook.url`
  points the ValidatingWebhookConfiguration (https://127.0.0.1:PORT).

What differs from a pod, and why (docs/real-operator.md):
- `--enable-leader-election` is dropped: controller-runtime only finds the lock's namespace from the
  service-account files mounted in a pod, and refuses to start without it;
- `--metrics-addr` is bound to 127.0.0.1 on a free port (the chart's port may be taken on a host);
- with `watchNamespaces` the chart renders one Deployment per namespace; they cannot share a host
  port, so the second and later ones get free webhook ports (the webhook points at the first).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fadi_seldon import tools as toolchain
from fadi_seldon.runtime import commands, names, polling, processes, versions
from fadi_seldon.runtime.files import PRIVATE, atomic_write
from fadi_seldon.runtime.statedir import StateDir
from fadi_seldon.tools import probe

OPERATOR_TOOL = "seldon-operator"
OPERATOR_CHART = names.CHART_NAME
MANAGER_CONTAINER = names.MANAGER_CONTAINER
TOKEN_DURATION = "24h"
START_TIMEOUT = 90.0
CERT_SUBDIR = ("k8s-webhook-server", "serving-certs")  # controller-runtime's default, below $TMPDIR
DROPPED_FLAGS = ("--enable-leader-election",)
STATE_VERSION = 1


class OperatorError(RuntimeError):
    """Something the user can act on; the message says what, where, and what to do."""


# --------------------------------------------------------------------------- from the rendered chart


@dataclass
class OperatorSpec:
    """What one operator process runs: one rendered controller Deployment, resolved."""

    deployment: str
    namespace: str
    service_account: str
    args: list[str]
    env: dict[str, str]
    cert_secret: str | None
    watch_namespace: str = ""

    def to_json(self) -> dict:
        return self.__dict__.copy()


def is_controller_deployment(doc: dict) -> bool:
    """A controller Deployment, found by its labels: our chart's (component controller-manager,
    part of seldon-core) or upstream's (control-plane: seldon-controller-manager)."""
    if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
        return False
    return names.has_labels(doc, names.CONTROLLER_LABELS) or names.has_labels(
        doc, names.UPSTREAM_CONTROLLER_LABELS
    )


def _manager_container(pod_spec: dict, where: str) -> dict:
    containers = pod_spec.get("containers") or []
    found = next((c for c in containers if c.get("name") == MANAGER_CONTAINER), None)
    if found is None:
        raise OperatorError(
            f"Deployment {where} is labelled as the operator's controller but has no container "
            f"{MANAGER_CONTAINER!r} (containers: {', '.join(str(c.get('name')) for c in containers) or 'none'})"
        )
    return found


def specs_from_manifest(docs: Sequence[dict], release_namespace: str) -> list[OperatorSpec]:
    """The controller Deployments of a rendered release, as process specs (in manifest order)."""
    specs = []
    for doc in docs:
        if not is_controller_deployment(doc):
            continue
        meta = doc.get("metadata") or {}
        name = meta.get("name", "?")
        namespace = meta.get("namespace") or release_namespace
        pod = doc["spec"]["template"]
        pod_spec = pod.get("spec") or {}
        container = _manager_container(pod_spec, name)
        pod_name = f"{name}-host-process"
        env = resolve_env(container.get("env") or [], namespace=namespace, pod_name=pod_name, where=name)
        args = expand_references(list(container.get("args") or []), env)
        specs.append(
            OperatorSpec(
                deployment=name,
                namespace=namespace,
                service_account=pod_spec.get("serviceAccountName") or "default",
                args=args,
                env=env,
                cert_secret=_cert_secret(pod_spec, container),
                watch_namespace=env.get("WATCH_NAMESPACE", ""),
            )
        )
    return specs


def resolve_env(entries: Sequence[dict], *, namespace: str, pod_name: str, where: str) -> dict[str, str]:
    """Container env as the kubelet would set it: values (with $(VAR) expansion) and pod fieldRefs."""
    fields = {"metadata.namespace": namespace, "metadata.name": pod_name, "status.podIP": "127.0.0.1"}
    env: dict[str, str] = {}
    for entry in entries:
        name = entry["name"]
        if "valueFrom" in entry:
            ref = (entry["valueFrom"] or {}).get("fieldRef")
            path = (ref or {}).get("fieldPath")
            if path not in fields:
                raise OperatorError(
                    f"Deployment {where}: env {name} takes its value from {entry['valueFrom']}, which a host "
                    f"process cannot resolve (supported: fieldRef {', '.join(sorted(fields))})"
                )
            env[name] = fields[path]
        else:
            env[name] = expand_references([str(entry.get("value", ""))], env)[0]
    return env


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_references(values: Sequence[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion: known variables are replaced, `$$` escapes, unknown ones stay."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return [_REFERENCE.sub(one, v) for v in values]


def _cert_secret(pod_spec: dict, container: dict) -> str | None:
    """The Secret mounted where controller-runtime looks for the serving certificate."""
    mount = next(
        (
            m
            for m in container.get("volumeMounts") or []
            if m.get("mountPath", "").rstrip("/").endswith("/".join(CERT_SUBDIR))
        ),
        None,
    )
    if mount is None:
        return None
    volume: dict = next((v for v in pod_spec.get("volumes") or [] if v.get("name") == mount.get("name")), {})
    return (volume.get("secret") or {}).get("secretName")


def host_args(args: Sequence[str], *, webhook_port: int, metrics_port: int) -> list[str]:
    """The rendered arguments, adapted to a host process (see the module docstring for why)."""
    out = []
    for arg in args:
        if arg in DROPPED_FLAGS or arg == "":
            continue
        if arg.startswith("--webhook-port="):
            arg = f"--webhook-port={webhook_port}"
        elif arg.startswith("--metrics-addr="):
            arg = f"--metrics-addr=127.0.0.1:{metrics_port}"
        out.append(arg)
    return out


def webhook_port_of(args: Sequence[str]) -> int | None:
    for arg in args:
        if arg.startswith("--webhook-port="):
            with contextlib.suppress(ValueError):
                return int(arg.split("=", 1)[1])
    return None


def operator_kubeconfig(server: str, ca_data: str | None, token: str, namespace: str, user: str) -> str:
    """A kubeconfig that authenticates as the chart's ServiceAccount (nothing else in it)."""
    cluster: dict = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "operator", "context": {"cluster": "cluster", "user": user, "namespace": namespace}}
        ],
        "current-context": "operator",
    }
    return (
        "# written by `fadi-seldon cluster operator start`: a TokenRequest token of the chart's ServiceAccount\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )


def cluster_of(kubeconfig_text: str, where: str) -> tuple[str, str | None]:
    """Server URL and CA data of the current context of a kubeconfig."""
    try:
        doc = yaml.safe_load(kubeconfig_text) or {}
        contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
        clusters = {c["name"]: c["cluster"] for c in doc.get("clusters") or []}
        current = doc.get("current-context") or next(iter(contexts))
        cluster = clusters[contexts[current]["cluster"]]
    except (yaml.YAMLError, KeyError, StopIteration, TypeError, AttributeError) as err:
        raise OperatorError(
            f"{where}: not a usable kubeconfig ({err}); point --kubeconfig at the cluster's"
        ) from None
    ca = cluster.get("certificate-authority-data")
    if ca is None and cluster.get("certificate-authority"):
        ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    return cluster["server"], ca


def values_prefix(chart_dir: Path) -> str:
    """Where the operator chart's values sit: top level, or under its key in an umbrella (FADI)."""
    try:
        name = (yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8")) or {}).get("name")
    except (OSError, yaml.YAMLError) as err:
        raise OperatorError(f"{chart_dir}: no readable Chart.yaml ({err})") from None
    return "" if name == OPERATOR_CHART else f"{OPERATOR_CHART}."


def nested_get(values: dict, dotted: str):
    node = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


# --------------------------------------------------------------------------- processes


@dataclass
class StartOptions:
    release: str
    namespace: str
    chart: Path
    values_files: list[str] = field(default_factory=list)
    set_values: list[str] = field(default_factory=list)
    install: bool = True
    timeout: float = START_TIMEOUT


def _metrics_url(port: int | None) -> str:
    """Where the host operator serves its Prometheus metrics (`--metrics-addr`), or ""."""
    return f"http://127.0.0.1:{port}/metrics" if port else ""


class OperatorRunner:
    """Start, stop and report the operator processes of one cluster (state under `state_dir`)."""

    def __init__(self, kubeconfig: Path, state_dir: Path, *, bin_dir: Path | None = None, out=None) -> None:
        self.kubeconfig = Path(kubeconfig).resolve()
        self.state_dir = Path(state_dir).resolve()
        self.bin_dir = bin_dir or toolchain.default_tools_dir() / "bin"
        self.out = out
        self.state = StateDir(self.state_dir, version=STATE_VERSION, prefix="[operator]", out=out)

    # helpers
    def say(self, message: str) -> None:
        self.state.say(message)

    def binary(self, name: str) -> str:
        found = toolchain.find_executable(name, self.bin_dir)
        if found:
            return found
        group = "operator" if name == OPERATOR_TOOL else "cluster"
        raise OperatorError(
            f"{name} is not installed (looked in {self.bin_dir} and PATH): run `fadi-seldon tools install {group}`"
        )

    def binary_version(self) -> str:
        """The operator's version as its binary records it (Go build info, e.g. 1.17.1), else the pin."""
        found = toolchain.find_executable(OPERATOR_TOOL, self.bin_dir)
        module = toolchain.registry()[OPERATOR_TOOL].buildinfo_module
        recorded = probe.buildinfo_version(Path(found), module) if found and module else None
        return (recorded or versions.get("SELDON_CORE_VERSION")).lstrip("v")

    def env(self) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        plugins = toolchain.default_tools_dir() / "helm" / "plugins"
        env.setdefault("HELM_PLUGINS", str(plugins))
        return env

    def run(self, tool: str, *args: str, input: str | None = None, what: str) -> str:
        argv = [self.binary(tool), *args]
        proc = commands.run(argv, env=self.env(), input=input, timeout=300)
        if not proc.ok:
            raise OperatorError(
                f"{what} failed: `{' '.join(argv)}` exited {proc.code}:\n{proc.stderr.strip()[-2000:]}"
            )
        return proc.stdout

    @property
    def state_file(self) -> Path:
        return self.state.state_file

    def load_state(self) -> dict:
        return self.state.load()

    def save_state(self, state: dict) -> None:
        self.state.save(state)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.state.locked("another `cluster operator` command"):
            yield

    # lifecycle
    def start(self, opts: StartOptions) -> dict:
        """Install/upgrade the release for the local webhook, then start one process per controller Deployment."""
        operator_exe = self.binary(OPERATOR_TOOL)
        with self.locked():
            state = self.load_state()
            if any(self._alive(rec) for rec in state.get("processes", [])):
                self.say("stopping the operator processes of the previous start")
                self._stop_processes(state)
            prefix = values_prefix(opts.chart)
            port = self._webhook_port(opts, prefix)
            if opts.install:
                self._install(opts, prefix, port)
            docs = [
                d
                for d in yaml.safe_load_all(
                    self.run(
                        "helm",
                        "get",
                        "manifest",
                        opts.release,
                        "-n",
                        opts.namespace,
                        what="reading the release",
                    )
                )
                if d
            ]
            specs = specs_from_manifest(docs, opts.namespace)
            if not specs:
                raise OperatorError(
                    f"release {opts.release} in namespace {opts.namespace} renders no operator Deployment "
                    f"(is `{prefix}enabled` true for the FADI chart?)"
                )
            server, ca_data = cluster_of(self.kubeconfig.read_text(encoding="utf-8"), str(self.kubeconfig))
            state = {
                "release": opts.release,
                "namespace": opts.namespace,
                "chart": str(opts.chart),
                "processes": [],
            }
            for index, spec in enumerate(specs):
                # the first Deployment serves the port the webhook points at; the others cannot share it
                wport = (webhook_port_of(spec.args) or port) if index == 0 else processes.free_port()
                rec = self._start_one(operator_exe, spec, server, ca_data, wport)
                state["processes"].append(rec)
                self.save_state(state)
            for rec in state["processes"]:
                self._wait_ready(rec, opts.timeout)
            state["webhook_url"] = f"https://127.0.0.1:{state['processes'][0]['port']}"
            self.save_state(state)
            return self.status()

    def _webhook_port(self, opts: StartOptions, prefix: str) -> int:
        """Keep the port the release already points its webhook at (the certificate lists the host)."""
        proc = commands.run(
            [self.binary("helm"), "get", "values", opts.release, "-n", opts.namespace, "-o", "json"],
            env=self.env(),
        )
        if proc.ok:
            values = json.loads(proc.stdout or "{}") or {}
            url = nested_get(values, f"{prefix}webhook.url") or ""
            match = re.fullmatch(r"https://127\.0\.0\.1:(\d+)/?", str(url))
            if match and not processes.port_open(int(match.group(1))):
                return int(match.group(1))
        if not opts.install:
            raise OperatorError(
                f"release {opts.release} in namespace {opts.namespace} does not point its webhook at a free "
                f"port of 127.0.0.1 (value {prefix}webhook.url); run `start` without --no-install, or set "
                f"{prefix}webhook.url=https://127.0.0.1:PORT and {prefix}webhook.port=PORT in the release"
            )
        return processes.free_port()

    def _install(self, opts: StartOptions, prefix: str, port: int) -> None:
        argv = [
            "upgrade",
            "--install",
            opts.release,
            str(opts.chart),
            "-n",
            opts.namespace,
            "--create-namespace",
        ]
        argv += ["--reset-then-reuse-values"]
        for f in opts.values_files:
            argv += ["--values", f]
        for s in opts.set_values:
            argv += ["--set", s]
        argv += [
            "--set",
            f"{prefix}webhook.url=https://127.0.0.1:{port}",
            "--set",
            f"{prefix}webhook.port={port}",
        ]
        self.say(f"helm {' '.join(argv[:4])} ... (webhook at https://127.0.0.1:{port})")
        self.run("helm", *argv, what=f"installing release {opts.release}")

    def _start_one(self, exe: str, spec: OperatorSpec, server: str, ca_data: str | None, wport: int) -> dict:
        home = self.state_dir / spec.deployment
        tmp = home / "tmp"
        certs = tmp.joinpath(*CERT_SUBDIR)
        certs.mkdir(parents=True, exist_ok=True)
        if spec.cert_secret:
            secret = json.loads(
                self.run(
                    "kubectl",
                    "get",
                    "secret",
                    spec.cert_secret,
                    "-n",
                    spec.namespace,
                    "-o",
                    "json",
                    what=f"reading the webhook certificate Secret {spec.namespace}/{spec.cert_secret}",
                )  # fmt: skip
            )
            for key in ("tls.crt", "tls.key"):
                value = (secret.get("data") or {}).get(key)
                if not value:
                    raise OperatorError(f"Secret {spec.namespace}/{spec.cert_secret} has no {key}")
                atomic_write(certs / key, base64.b64decode(value), PRIVATE)
        token = self.run(
            "kubectl", "create", "token", spec.service_account, "-n", spec.namespace, "--duration", TOKEN_DURATION,
            what=f"requesting a token for ServiceAccount {spec.namespace}/{spec.service_account}",
        ).strip()  # fmt: skip
        kubeconfig = home / "kubeconfig"
        user = f"system:serviceaccount:{spec.namespace}:{spec.service_account}"
        atomic_write(kubeconfig, operator_kubeconfig(server, ca_data, token, spec.namespace, user), PRIVATE)
        metrics_port = processes.free_port()
        argv = [exe, *host_args(spec.args, webhook_port=wport, metrics_port=metrics_port)]
        env = {**spec.env, "KUBECONFIG": str(kubeconfig), "TMPDIR": str(tmp), "HOME": str(home)}
        log = home / "operator.log"
        self.say(f"starting {spec.deployment} as {user} (webhook 127.0.0.1:{wport}, log {log})")
        rec = processes.spawn(spec.deployment, argv, log, env=env, port=wport)
        rec.extra = {
            "metrics_port": metrics_port,
            "service_account": user,
            "watch_namespace": spec.watch_namespace,
        }
        return rec.to_json()

    def _alive(self, rec: dict) -> bool:
        return processes.is_running(rec["pid"], rec.get("start_time"))

    def _wait_ready(self, rec: dict, timeout: float) -> None:
        """Ready = the process lives and its webhook server accepts connections."""

        def serving() -> bool:
            if not self._alive(rec):
                raise OperatorError(
                    f"operator {rec['name']} exited during start-up; last lines of {rec['log']}:\n{processes.tail(rec['log'])}"
                )
            return processes.port_open(rec["port"])

        try:
            polling.wait_until(f"operator {rec['name']}", serving, timeout, every=0.3)
        except polling.WaitTimeout:
            raise OperatorError(
                f"operator {rec['name']} did not serve its webhook on 127.0.0.1:{rec['port']} within {timeout:.0f}s; "
                f"last lines of {rec['log']}:\n{processes.tail(rec['log'])}"
            ) from None

    def stop(self, *, uninstall: bool = False) -> list[str]:
        if not self.state.state_file.is_file():  # never started here: nothing to stop, no folder made
            return []
        with self.locked():
            state = self.load_state()
            stopped = self._stop_processes(state)
            if uninstall and state.get("release"):
                self.say(f"helm uninstall {state['release']} -n {state['namespace']}")
                self.run("helm", "uninstall", state["release"], "-n", state["namespace"], what="uninstalling")
            self.state.remove()
            return stopped

    def _stop_processes(self, state: dict) -> list[str]:
        stopped = []
        for rec in state.get("processes", []):
            if processes.stop(processes.ProcessRecord.from_json(rec)):
                stopped.append(rec["name"])
        return stopped

    def status(self) -> dict:
        state = self.load_state()
        rows = []
        for rec in state.get("processes", []):
            alive = self._alive(rec)
            rows.append(
                {
                    "name": rec["name"],
                    "pid": rec["pid"] if alive else None,
                    "running": alive,
                    "webhook": f"https://127.0.0.1:{rec['port']}",
                    "metrics": _metrics_url(rec.get("extra", {}).get("metrics_port")),
                    "serving": bool(alive and rec.get("port") and processes.port_open(rec["port"])),
                    "watch_namespace": rec.get("extra", {}).get("watch_namespace", ""),
                    "service_account": rec.get("extra", {}).get("service_account"),
                    "log": rec["log"],
                }
            )
        return {
            "release": state.get("release"),
            "namespace": state.get("namespace"),
            "module_version": self.binary_version(),
            "running": bool(rows) and all(r["running"] and r["serving"] for r in rows),
            "processes": rows,
            "state_dir": str(self.state_dir),
        }
