"""Run a model folder with the real Seldon Python wrapper on loopback, and stop it completely.

The wrapper pins jsonschema<4 and PyYAML<=6.0.1, which clash with this project's own
dependencies, so it lives in a virtual environment of its own, created on first use.

Two upstream behaviours shape this module:
- every listener binds 0.0.0.0 and there is no flag to change it. A three-line launcher rewrites
  the bind address of gunicorn and gRPC to the chosen host before the wrapper's own `main()` runs;
  the serving code itself is untouched, so requests take the same path as in a container.
- on SIGTERM the wrapper's main process waits forever for its gRPC worker. The wrapper is started
  in its own session, and stopping signals the whole process group, then kills any process of the
  session that is still there (runtime.processes.stop_session, shared with the local cluster).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fadi_seldon.runtime import commands, polling, processes, versions
from fadi_seldon.runtime.processes import session_members  # noqa: F401  (kept for callers of serving)

# Defaults of the Seldon Core 1.17.1 wrapper (seldon_core/microservice.py); images expose the same.
WRAPPER_HTTP_PORT = 9000
WRAPPER_GRPC_PORT = 5000
WRAPPER_METRICS_PORT = 6000
WRAPPER_SCRIPT = "seldon-core-microservice"
DEFAULT_HOST = "127.0.0.1"

# Run by the serve venv's interpreter: argv = [-c, HOST, <wrapper arguments>...].
LOOPBACK_LAUNCHER = """\
import sys
host = sys.argv.pop(1)
from grpc import _server
from seldon_core import gunicorn_utils, microservice
_load_config = gunicorn_utils.StandaloneApplication.load_config
def load_config(self):
    if self.options.get("bind"):
        self.options["bind"] = host + ":" + str(self.options["bind"]).rsplit(":", 1)[1]
    _load_config(self)
gunicorn_utils.StandaloneApplication.load_config = load_config
_add_port = _server._Server.add_insecure_port
_server._Server.add_insecure_port = lambda self, address: _add_port(self, host + ":" + address.rsplit(":", 1)[1])
sys.argv[0] = "seldon-core-microservice"
microservice.main()
"""


class ServeError(RuntimeError):
    """The model cannot be served; the message says why and what to do."""


class BadServeInput(ServeError):
    """What was given cannot be used as such (an address of another machine, a folder holding no
    model artifact): found before anything is installed or started, a usage error for the CLI."""


def default_venv() -> Path:
    """FADI_SERVE_VENV, else .venv-serve in the checkout, else a per-user cache folder."""
    return versions.local_dir(
        "FADI_SERVE_VENV", ".venv-serve", versions.user_dir("XDG_CACHE_HOME", ".cache", "serve-venv")
    )


def requirements() -> list[str]:
    """What the serve venv needs: the pinned wrapper and the setuptools that still has pkg_resources."""
    return [
        f"seldon-core=={versions.get('PY_SELDON_CORE')}",
        f"setuptools<{versions.get('PY_SETUPTOOLS_MAX')}",
    ]


def installed_wrapper_version(venv: Path) -> str | None:
    """Version of seldon-core in the venv, read from its dist-info folder (no interpreter start)."""
    if not (venv / "bin" / WRAPPER_SCRIPT).is_file():
        return None
    for info in venv.glob("lib/python*/site-packages/seldon_core-*.dist-info"):
        return info.name.removeprefix("seldon_core-").removesuffix(".dist-info")
    return None


def ensure_venv(venv: Path, install: bool = True, progress: Callable[[str], None] = print) -> Path:
    """The venv's python, creating the venv and installing the wrapper when needed."""
    want = versions.get("PY_SELDON_CORE")
    have = installed_wrapper_version(venv)
    python = venv / "bin" / "python"
    if have == want:
        return python
    if not install:
        state = f"has seldon-core {have}" if have else "does not have the Seldon wrapper"
        raise ServeError(
            f"{venv} {state}; {want} is needed. Run without --no-install, or: {install_command(venv)}"
        )
    if not python.is_file():
        create_venv(venv, "the wrapper's pins clash with fadi-seldon's own", progress)
    pip_install(python, requirements(), "the Seldon wrapper", progress, "about 20-30 s, once")
    return python


def install_command(venv: Path) -> str:
    """The shell command that does what `ensure_venv` does, for messages that leave it to the user."""
    python = venv / "bin" / "python"
    reqs = " ".join(f"'{r}'" for r in requirements())
    return f"{sys.executable} -m venv {venv} && {python} -m pip install {reqs}"


def create_venv(venv: Path, why: str, progress: Callable[[str], None]) -> Path:
    """A fresh virtual environment at `venv` (its python), for a server whose pins clash with ours."""
    progress(f"creating the serve environment {venv} ({why})")
    result = commands.run([sys.executable, "-m", "venv", str(venv)])
    if not result.ok:
        raise ServeError(f"cannot create {venv}: {result.said()}")
    return venv / "bin" / "python"


def pip_install(
    python: Path, reqs: list[str], what: str, progress: Callable[[str], None], expect: str = "once"
) -> None:
    """pip install `reqs` with the venv's own pip, with progress; pip's last lines in the error."""
    venv = python.parent.parent
    progress(f"installing {' '.join(reqs)} into {venv} ({expect})")
    started = time.monotonic()
    result = commands.run([python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *reqs])
    if not result.ok:
        raise ServeError(f"pip could not install {what} into {venv}:\n{result.said()}")
    progress(f"installed in {time.monotonic() - started:.0f} s")


def check_host(host: str) -> None:
    """`host` must be an IPv4 address of this machine (or a name for one): the servers bind it.

    Without this check a bind that fails for another reason (no such address) reads as a busy port."""
    try:
        address = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except (socket.gaierror, UnicodeError, IndexError) as err:
        reason = getattr(err, "strerror", None) or "not an IPv4 address or a known name"
        raise BadServeInput(
            f"--host {host} is not a valid local address ({reason}); use 127.0.0.1 or an address of this machine"
        ) from None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as err:
            raise BadServeInput(
                f"--host {host} is not a valid local address ({err.strerror or err}); "
                "use 127.0.0.1 or an address of this machine"
            ) from None


def port_in_use(host: str, port: int) -> bool:
    """True when a listener already holds host:port (checked the way gunicorn binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@dataclass(kw_only=True)
class ServerProcess:
    """A model server started in its own session on loopback: ports checked first, readiness polled,
    and stopped with every process of its session. Subclasses say what to run and where it answers."""

    host: str = DEFAULT_HOST
    http_port: int = WRAPPER_HTTP_PORT
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    # the session's TMPDIR, removed on stop: the pymp-* folders of multiprocessing workers that the
    # stop has to kill would otherwise stay behind in /tmp
    tmpdir: Path | None = None
    label = "the server"  # in messages: "<label> exited with code N"
    kind = "server"  # in messages: "all <kind> processes ended"
    ready_path = "/health/ping"

    def prepare(self, venv: Path | None, install: bool, progress: Callable[[str], None]) -> Path:
        """The python of the venv the server runs from, created or completed when needed."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def listeners(self) -> list[tuple[str, int, str]]:
        """(what, port, flag that changes it) of every port the server binds."""
        return [("HTTP", self.http_port, "--port")]

    def command(self, python: Path) -> list[str]:
        raise NotImplementedError

    def workdir(self) -> Path:
        raise NotImplementedError

    def check_ports(self) -> None:
        seen: dict[int, str] = {}
        for what, port, flag in self.listeners():
            if port in seen:
                raise ServeError(
                    f"the {what} and {seen[port]} ports are both {port}; choose another with {flag}"
                )
            seen[port] = what
            if port_in_use(self.host, port):
                raise ServeError(
                    f"{self.host}:{port} ({what}) is already in use; choose another port with {flag}"
                )

    def start(self, python: Path, stdout=None, stderr=None) -> subprocess.Popen:
        self.check_ports()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="fadi-serve-"))
        env = dict(os.environ, TMPDIR=str(self.tmpdir))
        env.update(self.extra_env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # own session: a terminal's Ctrl-C does not reach it half-way, and stop() can signal the group
        self.process = subprocess.Popen(
            self.command(python),
            cwd=self.workdir(),
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        return self.process

    def wait_ready(self, timeout: float = 60.0, interval: float = 0.02) -> float:
        """Poll the readiness path until it answers 200; seconds waited. Raises ServeError if the server exits."""
        assert self.process is not None
        process = self.process
        start = time.monotonic()
        url = f"{self.url}{self.ready_path}"

        def answers() -> bool:
            code = process.poll()
            if code is not None:
                raise ServeError(
                    f"{self.label} exited with code {code} before answering {url} (see its log above)"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    return resp.status == 200
            except (urllib.error.URLError, OSError):
                return False

        try:
            polling.wait_until(url, answers, timeout, interval)
        except polling.WaitTimeout:
            raise ServeError(f"{url} did not answer within {timeout:.0f} s") from None
        return time.monotonic() - start

    def stop(self, grace: float = 5.0) -> int | None:
        """Stop every process of the server's session: SIGTERM to the group, SIGKILL what remains."""
        proc = self.process
        if proc is None:
            return None
        processes.stop_session(proc.pid, grace, poll=proc.poll)
        try:
            code = proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            code = None
        self.process = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        return code


@dataclass
class Wrapper(ServerProcess):
    """One running seldon-core-microservice tree."""

    folder: Path
    interface_name: str
    service_type: str = "MODEL"
    grpc_port: int = WRAPPER_GRPC_PORT
    metrics_port: int = WRAPPER_METRICS_PORT
    workers: int = 1
    grpc_workers: int = 1
    parameters: str | None = None
    label = "the wrapper"
    kind = "wrapper"

    def prepare(self, venv: Path | None, install: bool, progress: Callable[[str], None]) -> Path:
        return ensure_venv(venv or default_venv(), install=install, progress=progress)

    def command(self, python: Path) -> list[str]:
        cmd = [str(python), "-c", LOOPBACK_LAUNCHER, self.host, self.interface_name]
        cmd += ["--service-type", self.service_type, "--workers", str(self.workers)]
        cmd += ["--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port)]
        cmd += ["--metrics-port", str(self.metrics_port), "--grpc-workers", str(self.grpc_workers)]
        if self.parameters:
            cmd += ["--parameters", self.parameters]
        return cmd

    def workdir(self) -> Path:
        return self.folder

    def listeners(self) -> list[tuple[str, int, str]]:
        ports = [("HTTP", self.http_port, "--port"), ("metrics", self.metrics_port, "--metrics-port")]
        if self.grpc_workers > 0:
            ports.append(("gRPC", self.grpc_port, "--grpc-port"))
        return ports
