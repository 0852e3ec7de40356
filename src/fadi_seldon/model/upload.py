"""`fadi-seldon upload`: a trained model's folder put where a prepackaged server's storage initializer
fetches it, and the Secret that lets the initializer read it.

The operator gives a prepackaged-server pod an init container that runs `rclone copy <modelUri>
/mnt/models`, configured only by the environment of the Secret its node names (`envSecretRefName`):
`RCLONE_CONFIG_S3_*` make the remote `s3`, so `s3://bucket/path` is `bucket/path` on that endpoint.
The upload runs the same program configured the same way, through environment variables and never a
config file on disk (the keys are written nowhere), so what it puts there is what the initializer
finds, under the same path, with the same keys when they come from that Secret (`--secret`). Keys
never come from the command line: a shell's history and `ps` would keep them.

Three rclone calls: `mkdir` of the bucket first (it is created if needed, and wrong keys or an endpoint
that does not answer are told apart here, in plain words, before any file moves: rclone's own words for
a refused key on a copy are "is a file not a directory"), then `copy` with its progress on stderr, then
`lsjson` of the destination to check that every file is there with its size.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fadi_seldon.runtime import commands

# the remote rclone is given in its environment for the upload (any name works; one no user sets)
REMOTE = "FADIUPLOAD"
# the remote upstream's initializer reads `s3://` through, and the Secret keys that configure it
SECRET_PREFIX = "RCLONE_CONFIG_S3_"
ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# rclone's spelling of the S3 providers offered (it warns about any other spelling, e.g. "minio")
PROVIDERS = {"other": "Other", "minio": "Minio", "aws": "AWS", "ceph": "Ceph"}
DEFAULT_PROVIDER = "Other"

# what a Secret's and a bucket's names may be (Kubernetes' DNS-1123 subdomain; S3's bucket rules)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# hosts only a cluster's DNS answers for (FADI's MinIO: minio.fadi.svc.cluster.local)
CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")

# rclone's (the AWS SDK's) words for keys the store refuses, and for an endpoint that does not answer
_REFUSED = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken")
_UNREACHABLE = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "network is unreachable",
    "no route to host",
    "context deadline exceeded",
    "connection reset",
    "server misbehaving",
)


class UploadError(Exception):
    """Why the upload cannot be done. `kind` says what sort of problem it is, for the exit code:
    usage (what was given is unusable), refused (the store refused the keys), unreachable (no store
    answers), not-found (no such Secret), failed (rclone failed, or a file is not where it should be)."""

    def __init__(self, message: str, kind: str = "failed", hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.hint = hint


# --------------------------------------------------------------------------- what is uploaded, where


@dataclass(frozen=True)
class Target:
    """`s3://BUCKET/PATH`: the modelUri the initializer reads, and the place the upload writes."""

    bucket: str
    path: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.path}"


def parse_uri(text: str) -> Target:
    """`s3://BUCKET/PATH` checked the way the store will take it, so that a typo is refused here."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "s3":
        raise UploadError(
            f"{text!r} is not an s3:// URI: write s3://BUCKET/PATH (e.g. s3://models/iris/v1)", "usage"
        )
    bucket, _, path = rest.partition("/")
    check_bucket(bucket)
    path = path.rstrip("/")
    if not path:
        raise UploadError(
            f"{text!r} names a bucket but no folder in it: write s3://{bucket}/NAME (the initializer copies "
            "that folder's files into /mnt/models, where the server loads them)",
            "usage",
        )
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or any(ord(c) < 32 for c in path):
        raise UploadError(
            f"{text!r}: the path after the bucket must be folder names separated by single '/' "
            "(no empty, '.' or '..' part, no control character)",
            "usage",
        )
    return Target(bucket, path)


def check_bucket(name: str) -> None:
    """S3's bucket naming rules (MinIO's are the same): the store would refuse the name later, in its
    own words (InvalidBucketName), after the keys and the endpoint were checked."""
    problem = None
    if not 3 <= len(name) <= 63:
        problem = f"has {len(name)} characters (3 to 63)"
    elif not _BUCKET_CHARS.match(name):
        problem = "may hold only lower-case letters, digits, '.' and '-'"
    elif not (name[0].isalnum() and name[-1].isalnum()):
        problem = "must start and end with a letter or a digit"
    elif ".." in name or ".-" in name or "-." in name:
        problem = "may not have '..', '.-' or '-.'"
    elif _IPV4.match(name):
        problem = "may not look like an IP address"
    elif name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        problem = "may not start with xn-- or sthree-, nor end with -s3alias or --ol-s3"
    if problem:
        raise UploadError(f"bucket name {name!r} {problem} (S3's bucket naming rules)", "usage")


@dataclass(frozen=True)
class LocalFile:
    path: str  # relative to the folder, with '/' (the key under the target's path)
    size: int


def local_files(folder: Path) -> list[LocalFile]:
    """The folder's files, links followed as rclone follows them (`--copy-links`), in a stable order;
    a folder that is missing, not a folder, empty or unreadable is refused before anything runs."""
    if not folder.exists():
        raise UploadError(f"{folder}: no such folder (the folder the trained model was saved in)", "usage")
    if not folder.is_dir():
        raise UploadError(
            f"{folder} is not a folder: give the folder the trained model was saved in", "usage"
        )
    found = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            try:
                size = path.stat().st_size
            except OSError as err:
                raise UploadError(f"{path}: cannot read it ({err.strerror or err})", "usage") from None
            if not path.is_file() or not os.access(path, os.R_OK):
                raise UploadError(f"{path} is not a readable file", "usage")
            found.append(LocalFile(path.relative_to(folder).as_posix(), size))
    found.sort(key=lambda f: f.path)
    if not found:
        raise UploadError(
            f"{folder} holds no file: nothing to upload (save the trained model there first)", "usage"
        )
    return found


# --------------------------------------------------------------------------- keys and endpoint


@dataclass(frozen=True)
class Credentials:
    """The keys, where they came from (said in messages, never the keys themselves), and what the
    rclone Secret they were read from also gives (its endpoint and provider)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    source: str = "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    endpoint: str | None = None
    provider: str | None = None
    secret: str | None = None  # the Secret's name: the node's envSecretRefName
    namespace: str | None = None


def environment_credentials(env: Mapping[str, str]) -> Credentials:
    """AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the names every S3 client reads."""
    missing = [key for key in ENV_KEYS if not env.get(key)]
    if missing:
        raise UploadError(
            f"no keys for the object store: {' and '.join(missing)} not set",
            "usage",
            hint="export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never on the command line: shell "
            "history keeps it), or read the cluster's rclone Secret with --secret NAME -n NS",
        )
    return Credentials(env[ENV_KEYS[0]], env[ENV_KEYS[1]])


class SecretReader(Protocol):
    """What reading a Secret needs of kubectl (fadi_seldon.doctor.Kubectl): `get ... -o json`."""

    def get(self, *args: str, missing_ok: bool = True) -> dict | None: ...


def secret_credentials(kubectl: SecretReader, name: str, namespace: str | None) -> Credentials:
    """The keys of a Secret in upstream's rclone form (RCLONE_CONFIG_S3_*), read with kubectl."""
    if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        raise UploadError(
            f"--secret {name!r} is not a Secret name (lower-case letters, digits, '-', '.')", "usage"
        )
    where = f"{namespace}/{name}" if namespace else name
    obj = kubectl.get("secret", name, *(["-n", namespace] if namespace else []))
    if obj is None:
        in_ns = f" in namespace {namespace}" if namespace else " in kubectl's current namespace"
        raise UploadError(
            f"no Secret {name}{in_ns}", "not-found", hint="list them with `kubectl get secrets -A`"
        )
    return credentials_from_secret(obj, f"Secret {where}", name, namespace)


def credentials_from_secret(obj: dict, where: str, name: str, namespace: str | None) -> Credentials:
    """A Secret object's keys (its `data`, base64) as the initializer reads them."""
    import base64

    data = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise UploadError(f"{where}: {key} is not UTF-8 text", "usage") from None
    needed = [SECRET_PREFIX + k for k in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY")]
    missing = [key for key in needed if not data.get(key)]
    if missing:
        remotes = sorted({k.split("_")[2] for k in data if re.match(r"^RCLONE_CONFIG_[^_]+_TYPE$", k)})
        has = f" (it configures the remotes {', '.join(remotes)})" if remotes else ""
        raise UploadError(
            f"{where} has no {' nor '.join(missing)}{has}: the storage initializer reads s3:// through "
            f"the remote `s3`, configured by {SECRET_PREFIX}* keys",
            "usage",
            hint="write one with `fadi-seldon upload --print-secret NAME --endpoint URL`",
        )
    return Credentials(
        data[needed[0]],
        data[needed[1]],
        source=where,
        endpoint=data.get(SECRET_PREFIX + "ENDPOINT") or None,
        provider=data.get(SECRET_PREFIX + "PROVIDER") or None,
        secret=name,
        namespace=namespace,
    )


def provider_name(text: str | None) -> str:
    """rclone's spelling of a provider (`minio` -> `Minio`); Other when none is given."""
    if not text:
        return DEFAULT_PROVIDER
    found = PROVIDERS.get(text.lower())
    if found is None:
        raise UploadError(f"provider {text!r} is not one of {', '.join(PROVIDERS.values())}", "usage")
    return found


def check_endpoint(url: str, what: str = "--endpoint") -> str:
    """An http(s) URL with a host, without its trailing '/'."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UploadError(
            f"{what} {url!r} is not a URL: write http(s)://HOST[:PORT] (FADI's MinIO in the cluster: "
            "http://minio.fadi.svc.cluster.local:9000)",
            "usage",
        )
    return url.rstrip("/")


def cluster_only(url: str) -> bool:
    """A host name only a cluster's DNS resolves (a Service's name) that this host cannot resolve."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if not host.endswith(CLUSTER_SUFFIXES):
        return False
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return True
    return False


def _port_forward_hint(url: str) -> str:
    """How to reach a store that only the cluster's DNS names, from here."""
    host = urllib.parse.urlsplit(url).hostname or ""
    port = urllib.parse.urlsplit(url).port or 9000
    service, _, rest = host.partition(".")
    namespace = rest.split(".")[0] or "NS"
    return (
        f"reach it from here through kubectl, e.g. `kubectl port-forward -n {namespace} svc/{service} "
        f"{port}:{port}` and --endpoint http://127.0.0.1:{port}"
    )


def endpoint_for(given: str | None, credentials: Credentials) -> str:
    """--endpoint, else the Secret's; a Secret's in-cluster name this host cannot resolve is refused
    with the way to reach it (its pods resolve it, this host does not)."""
    if given:
        return check_endpoint(given)
    if not credentials.endpoint:
        where = (
            f"{credentials.source} gives no {SECRET_PREFIX}ENDPOINT" if credentials.secret else "no endpoint"
        )
        raise UploadError(
            f"{where}: pass --endpoint URL (FADI's MinIO, or the local object store)",
            "usage",
        )
    url = check_endpoint(credentials.endpoint, f"{credentials.source}'s endpoint")
    if cluster_only(url):
        raise UploadError(
            f"{credentials.source}'s endpoint {url} is a name only the cluster's DNS resolves, not this host: "
            "pass --endpoint URL that reaches the same store from here",
            "usage",
            hint=_port_forward_hint(url),
        )
    return url


# --------------------------------------------------------------------------- the plan and its result


@dataclass
class Plan:
    """Everything checked before rclone runs: what goes where, with which keys."""

    folder: Path
    target: Target
    files: list[LocalFile]
    endpoint: str
    credentials: Credentials
    provider: str

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def result(self, uploaded: bool, extra: Iterable[str] = ()) -> dict[str, Any]:
        """The result a user acts on: the modelUri and envSecretRefName under the names the
        SeldonDeployment's graph node gives them, the files and bytes, and the next commands."""
        secret = self.credentials.secret
        server = guess_server(self.files)
        return {
            "uploaded": uploaded,
            "source": str(self.folder),
            "endpoint": self.endpoint,
            "modelUri": self.target.uri,
            "envSecretRefName": secret,
            "secret_namespace": self.credentials.namespace if secret else None,
            "credentials": self.credentials.source,
            "files": [{"path": f.path, "bytes": f.size} for f in self.files],
            "file_count": len(self.files),
            "bytes": self.bytes,
            "extra_files": sorted(extra),
            "server": server,
            "next": next_steps(self.target.uri, server, secret, self.credentials.namespace),
        }


def guess_server(files: list[LocalFile]) -> str | None:
    """The prepackaged server whose runtime loads a file at the folder's top (model.joblib: sklearn),
    for the `new` command the result suggests; None when no file says."""
    from fadi_seldon.model.mlserver import RUNTIMES

    top = {f.path for f in files if "/" not in f.path}
    return next((name for name, runtime in RUNTIMES.items() if top & set(runtime.artifacts)), None)


def next_steps(uri: str, server: str | None, secret: str | None, namespace: str | None) -> list[str]:
    """The commands that deploy the model: the Secret first when the keys came from the environment."""
    steps = []
    ns = f" -n {namespace}" if namespace else ""
    if not secret:
        secret = "seldon-rclone-secret"
        steps.append(
            f"fadi-seldon upload --print-secret {secret} --endpoint URL-AS-THE-CLUSTER-SEES-IT "
            "| kubectl apply -n NS -f -"
        )
    steps.append(
        f"fadi-seldon new NAME --server {server or 'SERVER'} --model-uri {uri} --env-secret {secret}{ns} "
        "| kubectl apply -f -"
    )
    return steps


def plan(
    folder: Path,
    uri: str,
    credentials: Callable[[], Credentials],
    endpoint: str | None = None,
    provider: str | None = None,
) -> Plan:
    """Check the inputs in the order a user fixes them: the folder, the URI, then the keys (only then,
    since reading a Secret asks the cluster) and the store's endpoint."""
    files = local_files(folder)
    target = parse_uri(uri)
    keys = credentials()
    url = endpoint_for(endpoint, keys)
    chosen = provider_name(provider or keys.provider)
    return Plan(folder.resolve(), target, files, url, keys, chosen)


# --------------------------------------------------------------------------- running rclone


def find_rclone() -> str:
    """The rclone the project builds (`fadi-seldon tools install rclone`), else one on PATH."""
    from fadi_seldon.tools.layout import find_executable

    found = find_executable("rclone")
    if not found:
        raise UploadError(
            "rclone is not installed",
            hint="run `fadi-seldon tools install rclone` (built from the Go module proxy)",
        )
    return found


def rclone_environment(plan: Plan, base: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with the upload's remote configured, and nothing a user set for a
    remote of that name or a config file kept: the upload depends on its arguments alone."""
    prefix = f"RCLONE_CONFIG_{REMOTE}_"
    env = {k: v for k, v in base.items() if not k.startswith(prefix) and k != "RCLONE_CONFIG"}
    env.update(
        {
            prefix + "TYPE": "s3",
            prefix + "PROVIDER": plan.provider,
            prefix + "ENV_AUTH": "false",
            prefix + "ACCESS_KEY_ID": plan.credentials.access_key_id,
            prefix + "SECRET_ACCESS_KEY": plan.credentials.secret_access_key,
            prefix + "ENDPOINT": plan.endpoint,
        }
    )
    return env


# rclone's log as JSON lines (`--use-json-log`), no config file at all, and one short try for a check
GLOBAL_FLAGS = ("--config", "", "--use-json-log")
QUICK = ("--retries", "1", "--low-level-retries", "2", "--contimeout", "10s", "--timeout", "30s")


def _log_entry(line: str) -> dict[str, Any]:
    """One line of rclone's JSON log (a line that is not JSON: its text as the message)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return {"level": "info", "msg": line.strip()}
    return entry if isinstance(entry, dict) else {"level": "info", "msg": line.strip()}


def human(size: float) -> str:
    """Bytes as a person reads them: 6 B, 195.3 KiB, 1.2 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@dataclass
class Rclone:
    """rclone with the upload's remote in its environment; errors kept for the message."""

    exe: str
    env: dict[str, str]
    say: Callable[[str], None]
    errors: list[str] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 600) -> commands.Completed:
        """A short call (mkdir, lsjson; QUICK keeps rclone's own retries short); a store that never
        answers is said as a timeout, which `problem` reports as unreachable."""
        argv = (self.exe, *args, *GLOBAL_FLAGS)
        try:
            done = commands.run(argv, env=self.env, timeout=timeout)
        except commands.TimeoutExpired:
            self.errors.append(f"rclone {args[0]} did not finish within {timeout:.0f} s: i/o timeout")
            return commands.Completed(argv, 1)
        self._keep_errors(done.stderr.splitlines())
        return done

    def _keep_errors(self, lines: Iterable[str]) -> None:
        for line in lines:
            entry = _log_entry(line)
            if _is_error(entry):
                self.errors.append(str(entry.get("msg", "")).strip())

    def stream(self, *args: str) -> int:
        """Run with rclone's progress shown as it comes: each file copied, and the totals each second."""
        done = commands.run(
            (self.exe, *args, *GLOBAL_FLAGS), env=self.env, on_line=lambda line: self._show(_log_entry(line))
        )
        return done.code

    def _show(self, entry: dict[str, Any]) -> None:
        message = str(entry.get("msg", "")).strip()
        if _is_error(entry):
            self.errors.append(message)
            self.say(f"error: {message}")
        elif "stats" in entry:
            self.say(message)
        elif entry.get("object") and message.startswith("Copied"):
            self.say(f"{entry['object']}: {message.lower()}, {human(float(entry.get('size') or 0))}")
        elif entry.get("level") == "notice" and "provider" not in message:
            self.say(message)


def _is_error(entry: dict[str, Any]) -> bool:
    """An error line of rclone's, or its closing `Failed to copy: ...` (a notice, with the reason)."""
    return entry.get("level") in ("error", "critical") or str(entry.get("msg", "")).startswith("Failed to")


def problem(errors: list[str], plan: Plan, doing: str) -> UploadError:
    """rclone's last error in a user's words: keys refused, no store answering, or rclone's own."""
    text = errors[-1] if errors else f"rclone failed while {doing} (no message)"
    api = re.search(r"api error (\w+): ([^\n]*)", text)
    where = f"the object store at {plan.endpoint}"
    code = api.group(1) if api else ("Forbidden" if re.search(r"(?i)status ?code: 403", text) else "")
    if code in _REFUSED or code == "Forbidden":
        extra = f", or the key may not write to bucket {plan.target.bucket}" if code == "AccessDenied" else ""
        return UploadError(
            f"{where} refused the keys ({code}): the access key or secret is wrong{extra}",
            "refused",
            hint=f"check {plan.credentials.source}",
        )
    lowered = text.lower()
    if any(marker in lowered for marker in _UNREACHABLE):
        reason = re.search(r"(dial tcp[^\n]*|lookup [^\n]*)$", text)
        hint = _port_forward_hint(plan.endpoint) if cluster_only(plan.endpoint) else "check --endpoint"
        return UploadError(
            f"cannot reach {where}: {reason.group(1) if reason else text}", "unreachable", hint=hint
        )
    if api:
        return UploadError(f"{where} refused {doing} ({api.group(1)}: {api.group(2)})")
    return UploadError(f"rclone failed while {doing}: {text}")


def verify(files: list[LocalFile], listing: list[dict]) -> tuple[list[str], list[str]]:
    """(what is missing or has another size there, what is there but not here) after the copy."""
    there = {str(item.get("Path")): item.get("Size") for item in listing if not item.get("IsDir")}
    wrong = []
    for f in files:
        if f.path not in there:
            wrong.append(f"{f.path} (missing)")
        elif there[f.path] != f.size:
            wrong.append(f"{f.path} ({f.size} bytes here, {there[f.path]} there)")
    here = {f.path for f in files}
    return wrong, [path for path in there if path not in here]


def upload(plan: Plan, exe: str, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create the bucket if needed, copy the folder with progress, check every file arrived."""
    say = say or _stderr
    rclone = Rclone(exe, rclone_environment(plan, os.environ), say)
    bucket = f"{REMOTE}:{plan.target.bucket}"
    destination = f"{bucket}/{plan.target.path}"
    say(
        f"{len(plan.files)} files, {human(plan.bytes)}: {plan.folder} -> {plan.target.uri} at {plan.endpoint}"
    )
    if rclone.run("mkdir", bucket, *QUICK).code != 0:
        raise problem(rclone.errors, plan, f"creating bucket {plan.target.bucket}")
    copied = rclone.stream(
        "copy", str(plan.folder), destination, "--copy-links", "--s3-no-check-bucket",
        "--stats", "1s", "--stats-one-line", "-v",
    )  # fmt: skip
    if copied != 0:
        raise problem(rclone.errors, plan, "copying")
    listed = rclone.run("lsjson", "-R", "--files-only", destination, *QUICK)
    if listed.code != 0:
        raise problem(rclone.errors, plan, f"listing {plan.target.uri}")
    wrong, extra = verify(plan.files, json.loads(listed.stdout or "[]"))
    if wrong:
        raise UploadError(f"after the copy, not at {plan.target.uri} as here: {', '.join(wrong)}")
    say(f"checked: the {len(plan.files)} files are at {plan.target.uri} with their sizes")
    if extra:
        say(
            f"warning: {plan.target.uri} also holds {len(extra)} files not in {plan.folder}: {', '.join(extra[:5])}"
        )
    return plan.result(uploaded=True, extra=extra)


def _stderr(message: str) -> None:
    print(f"upload: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the Secret to apply


def secret_manifest(
    name: str, namespace: str | None, endpoint: str, credentials: Credentials, provider: str | None
) -> dict[str, Any]:
    """A Secret in upstream's rclone form (components/rclone-storage-initializer/readme.md) for the
    node's envSecretRefName; stringData, so that `kubectl apply` encodes it."""
    if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        raise UploadError(
            f"--print-secret {name!r} is not a Secret name (lower-case letters, digits, '-', '.')", "usage"
        )
    if namespace is not None and not DNS_LABEL.match(namespace):
        raise UploadError(f"namespace {namespace!r} is not a DNS label", "usage")
    metadata: dict[str, str] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": {
            SECRET_PREFIX + "TYPE": "s3",
            SECRET_PREFIX + "PROVIDER": provider_name(provider),
            SECRET_PREFIX + "ENV_AUTH": "false",
            SECRET_PREFIX + "ACCESS_KEY_ID": credentials.access_key_id,
            SECRET_PREFIX + "SECRET_ACCESS_KEY": credentials.secret_access_key,
            SECRET_PREFIX + "ENDPOINT": check_endpoint(endpoint),
        },
    }


def loopback(url: str) -> bool:
    """An endpoint that, seen from a pod, is the pod itself."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
