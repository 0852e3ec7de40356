"""What a Seldon operator's log says: the SeldonDeployment it died on, and the last error of each.

The operator (controller-runtime 0.11, one reconcile at a time) logs `Reconcile called` with the
`SeldonDeployment` key before it touches an object, and a Go panic is not recovered: the process
prints `panic: ...` and a goroutine trace, then exits. So the object of the last `Reconcile called`
before the panic is the one that killed it, and the first stack frame inside the operator's own
module is where. Both log encodings are read: JSON lines (the chart's default) and zap's
development console lines (`--debug`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

OPERATOR_MODULE = "github.com/seldonio/seldon-core/operator"
_SDEP_KEY = re.compile(r'"SeldonDeployment":\s*"(?P<ns>[^"/]*)/(?P<name>[^"]+)"')
_FRAME_FUNC = re.compile(r"^" + re.escape(OPERATOR_MODULE) + r"/(?P<func>\S+)\(")
_FRAME_FILE = re.compile(r"^\s+(?P<path>\S+?):(?P<line>\d+)")
# the file inside the module: a `-trimpath` build records `github.com/seldonio/seldon-core/operator@v1.17.1/x.go`
# (tools install builds it so), a module cache `…/operator@v1.17.1/x.go`, a checkout `…/operator/x.go`
_MODULE_FILE = re.compile(r"(?:" + re.escape(OPERATOR_MODULE) + r"@[^/]+|/operator)/(?P<file>.+)$")


@dataclass(frozen=True)
class Crash:
    """A panic of the operator, with the object it was reconciling when it died."""

    message: str  # the panic line, e.g. "panic: runtime error: index out of range [0] with length 0"
    location: str  # file:line inside the operator module, e.g. controllers/seldondeployment_controller.go:123
    function: str  # e.g. controllers.(*SeldonDeploymentReconciler).createAddressableResource
    namespace: str  # of the SeldonDeployment being reconciled ("" when the log does not say)
    name: str

    @property
    def culprit(self) -> str:
        return f"{self.namespace}/{self.name}" if self.name else ""

    def to_json(self) -> dict:
        return {**asdict(self), "culprit": self.culprit}


def _record(line: str) -> dict | None:
    """A JSON log line as a dict (None for console lines and trace lines)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def reconciled_object(line: str) -> tuple[str, str] | None:
    """(namespace, name) of a `Reconcile called` line, else None."""
    if "Reconcile called" not in line:
        return None
    match = _SDEP_KEY.search(line)
    return (match["ns"], match["name"]) if match else None


def parse_crash(text: str) -> Crash | None:
    """The last panic in a log, or None when the process did not panic."""
    lines = text.splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith("panic: ")), default=-1)
    if start < 0:
        return None
    namespace = name = ""
    for line in reversed(lines[:start]):
        found = reconciled_object(line)
        if found:
            namespace, name = found
            break
    function = location = ""
    for i in range(start + 1, len(lines) - 1):
        func = _FRAME_FUNC.match(lines[i])
        where = _FRAME_FILE.match(lines[i + 1])
        if func and where:
            inside = _MODULE_FILE.search(where["path"])
            file = inside["file"] if inside else where["path"].rsplit("/", 1)[-1]
            function, location = func["func"], f"{file}:{where['line']}"
            break
    return Crash(lines[start].strip(), location, function, namespace, name)


def _error_of(record: dict) -> tuple[str, str] | None:
    """("namespace/name", message) of a JSON error line about one SeldonDeployment."""
    if record.get("level") not in ("error", "ERROR"):
        return None
    key = record.get("SeldonDeployment")
    if not isinstance(key, str) and record.get("name"):
        key = f"{record.get('namespace', '')}/{record['name']}"
    if not isinstance(key, str) or "/" not in key:
        return None
    message = str(record.get("msg", ""))
    if record.get("error"):
        message = f"{message}: {record['error']}"
    return key, message


def last_errors(text: str) -> dict[str, str]:
    """The last error the operator logged for each SeldonDeployment ("namespace/name" -> message)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        record = _record(line)
        if record is None:
            continue
        found = _error_of(record)
        if found:
            out[found[0]] = found[1]
    return out
