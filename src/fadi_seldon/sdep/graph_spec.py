"""The compact graph spec read by `fadi-seldon new --from SPEC.yaml` (documented in docs/graphs.md).

A SeldonDeployment spells every node twice (a graph entry and a container of the same name) and
nests PodSpecs; the spec says each node once, as `ROLE: REFERENCE`, and nests only the graph:

    name: income
    graph:
      transformer: scale=repo/scaler:1
      children:
        - router: RANDOM_ABTEST
          parameters: {ratioA: 0.7}
          children: [{model: a=repo/a:1}, {model: "b=SKLEARN_SERVER:gs://bucket/b"}]

Errors name the file, line and column, and the path inside the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fadi_seldon.sdep import graph
from fadi_seldon.sdep.graph import Deployment, GraphError, Node, Parameter, Predictor, Resources

# spec role key -> PredictiveUnit type
ROLES = {
    "model": "MODEL",
    "transformer": "TRANSFORMER",
    "output_transformer": "OUTPUT_TRANSFORMER",
    "router": "ROUTER",
    "combiner": "COMBINER",
}
NODE_KEYS = {"name", "parameters", "env", "resources", "endpoint", "envSecretRefName", "children"}
PREDICTOR_KEYS = {"name", "graph", "traffic", "replicas", "shadow", "labels"}
TOP_KEYS = {
    "name",
    "namespace",
    "apiVersion",
    "protocol",
    "transport",
    "labels",
    "annotations",
    "resources",
    "specName",
    "predictors",
    "graph",
    "replicas",
}


class _Reader:
    """Walks the loaded YAML, turning positions into `file:line:col: path` prefixes for errors."""

    def __init__(self, source: str):
        self.source = source

    def where(self, parent: Any, key: Any, path: str, at_key: bool = False) -> str:
        """Position of parent[key] (of the key itself with at_key), or of the parent when key is None."""
        line: int | None = None
        col = 0  # set with `line`, read only when it is
        lc = getattr(parent, "lc", None)
        try:
            if lc is not None and isinstance(key, int):
                line, col = lc.item(key)
            elif lc is not None and key is not None:
                if key not in parent:
                    line, col = lc.line, lc.col
                else:
                    line, col = lc.key(key) if at_key else lc.value(key)
            elif lc is not None:
                line, col = lc.line, lc.col
        except (KeyError, IndexError, TypeError):
            line = None
        pos = f"{self.source}:{line + 1}:{col + 1}" if line is not None else self.source
        return f"{pos}: {path}" if path else pos

    def mapping(self, value: Any, allowed: set[str], path: str, parent: Any, key: Any) -> dict:
        if not isinstance(value, dict):
            where = self.where(parent, key, path) if parent is not None else self.where(value, None, path)
            raise GraphError(f"expected a mapping (key: value), got {_kind(value)}", where)
        for k in value:
            if k not in allowed:
                raise GraphError(
                    f"unknown key {k!r}; expected one of {', '.join(sorted(allowed))}",
                    self.where(value, k, f"{path}.{k}" if path else str(k), at_key=True),
                )
        return value

    def typed(self, value: Any, kind: type | tuple, what: str, where: str):
        if isinstance(value, bool) and kind is int or not isinstance(value, kind):
            raise GraphError(f"expected {what}, got {value!r}", where)
        return value

    def string_map(self, value: Any, path: str, parent: Any, key: Any) -> dict[str, str]:
        where = self.where(parent, key, path)
        if not isinstance(value, dict):
            raise GraphError("expected a mapping of names to values", where)
        out = {}
        for k, v in value.items():
            if isinstance(v, dict | list) or v is None:
                raise GraphError(
                    f"value of {k!r} must be a string or number", self.where(value, k, f"{path}.{k}")
                )
            out[str(k)] = v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
        return out

    def resources(self, value: Any, path: str, parent: Any, key: Any) -> Resources:
        m = self.mapping(value, {"requests", "limits"}, path, parent, key)
        res = Resources()
        for part in ("requests", "limits"):
            if part in m:
                quantities = self.string_map(m[part], f"{path}.{part}", m, part)
                for name, q in quantities.items():
                    graph.check_quantity(q, self.where(m[part], name, f"{path}.{part}.{name}"))
                setattr(res, part, quantities)
        return res

    def parameters(self, value: Any, path: str, parent: Any, key: Any) -> list[Parameter]:
        where = self.where(parent, key, path)
        if isinstance(value, dict):
            return [Parameter.infer(str(k), v, self.where(value, k, f"{path}.{k}")) for k, v in value.items()]
        if isinstance(value, list):
            out = []
            for i, item in enumerate(value):
                m = self.mapping(item, {"name", "value", "type"}, f"{path}[{i}]", value, i)
                if "name" not in m or "value" not in m:
                    raise GraphError("a parameter needs name and value", self.where(value, i, f"{path}[{i}]"))
                if "type" in m:
                    ptype = str(m["type"])
                    if ptype not in graph.PARAMETER_TYPES:
                        raise GraphError(
                            f"type {ptype!r} is not one of {', '.join(graph.PARAMETER_TYPES)}",
                            self.where(m, "type", f"{path}[{i}].type"),
                        )
                    raw = m["value"]
                    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
                    out.append(Parameter(str(m["name"]), text, ptype))
                else:
                    out.append(
                        Parameter.infer(str(m["name"]), m["value"], self.where(value, i, f"{path}[{i}]"))
                    )
            return out
        raise GraphError("parameters are a mapping (ratioA: 0.5) or a list of {name, value, type}", where)

    def node(self, value: Any, path: str, parent: Any, key: Any) -> Node:
        if isinstance(value, str):
            return graph.parse_component(value, "MODEL", self.where(parent, key, path))
        m = self.mapping(value, NODE_KEYS | set(ROLES), path, parent, key)
        roles = [r for r in ROLES if r in m]
        if len(roles) != 1:
            found = ", ".join(roles) or "none"
            raise GraphError(
                f"a node has exactly one role key ({', '.join(ROLES)}); found {found}",
                self.where(parent, key, path),
            )
        role = roles[0]
        name = m.get("name")
        if name is not None:
            self.typed(name, str, "a node name", self.where(m, "name", f"{path}.name"))
        node = graph.parse_component(
            self.typed(m[role], str, "a component reference string", self.where(m, role, f"{path}.{role}")),
            ROLES[role],
            self.where(m, role, f"{path}.{role}"),
            name=None,
        )
        if name is not None:
            node.name = name
        if "parameters" in m:
            node.parameters = self.parameters(m["parameters"], f"{path}.parameters", m, "parameters")
        if "env" in m:
            node.env = self.string_map(m["env"], f"{path}.env", m, "env")
        if "resources" in m:
            node.resources = self.resources(m["resources"], f"{path}.resources", m, "resources")
        if "envSecretRefName" in m:
            where = self.where(m, "envSecretRefName", f"{path}.envSecretRefName")
            node.env_secret_ref_name = self.typed(m["envSecretRefName"], str, "a Secret name", where)
        if "endpoint" in m:
            endpoint = str(m["endpoint"]).upper()
            if endpoint not in graph.ENDPOINT_TYPES:
                raise GraphError(
                    f"endpoint is REST or GRPC, got {m['endpoint']!r}",
                    self.where(m, "endpoint", f"{path}.endpoint"),
                )
            node.endpoint_type = endpoint
        children = m.get("children", [])
        if not isinstance(children, list):
            raise GraphError("children is a list of nodes", self.where(m, "children", f"{path}.children"))
        node.children = [self.node(c, f"{path}.children[{i}]", children, i) for i, c in enumerate(children)]
        return node

    def predictor(self, value: Any, path: str, parent: Any, key: Any, default_name: str) -> Predictor:
        m = self.mapping(value, PREDICTOR_KEYS, path, parent, key)
        if "graph" not in m:
            raise GraphError("a predictor needs a graph", self.where(parent, key, path))
        pred = Predictor(
            name=str(m.get("name", default_name)), graph=self.node(m["graph"], f"{path}.graph", m, "graph")
        )
        for field, kind, what in (("traffic", int, "an integer 0..100"), ("replicas", int, "an integer")):
            if field in m:
                setattr(
                    pred, field, self.typed(m[field], kind, what, self.where(m, field, f"{path}.{field}"))
                )
        if "shadow" in m:
            pred.shadow = self.typed(
                m["shadow"], bool, "true or false", self.where(m, "shadow", f"{path}.shadow")
            )
        if "labels" in m:
            pred.labels = self.string_map(m["labels"], f"{path}.labels", m, "labels")
        return pred

    def deployment(self, doc: Any) -> Deployment:
        m = self.mapping(doc, TOP_KEYS, "", None, None)
        if ("graph" in m) == ("predictors" in m):
            raise GraphError(
                "give either graph (one predictor) or predictors (a list)", self.where(m, None, "")
            )
        if "graph" in m:
            pred = Predictor(name="default", graph=self.node(m["graph"], "graph", m, "graph"))
            if "replicas" in m:
                pred.replicas = self.typed(
                    m["replicas"], int, "an integer", self.where(m, "replicas", "replicas")
                )
            predictors = [pred]
        else:
            if "replicas" in m:
                raise GraphError("set replicas on each predictor", self.where(m, "replicas", "replicas"))
            items = m["predictors"]
            if not isinstance(items, list) or not items:
                raise GraphError("predictors is a non-empty list", self.where(m, "predictors", "predictors"))
            predictors = [
                self.predictor(p, f"predictors[{i}]", items, i, "default" if i == 0 else f"predictor-{i}")
                for i, p in enumerate(items)
            ]
        dep = Deployment(name=str(m.get("name", "")), predictors=predictors)
        for key, attr in (
            ("namespace", "namespace"),
            ("apiVersion", "api_version"),
            ("protocol", "protocol"),
            ("transport", "transport"),
            ("specName", "spec_name"),
        ):
            if key in m:
                setattr(dep, attr, str(self.typed(m[key], str, "a string", self.where(m, key, key))))
        if dep.api_version.startswith(graph.GROUP + "/"):
            dep.api_version = dep.api_version.split("/", 1)[1]
        for key in ("labels", "annotations"):
            if key in m:
                setattr(dep, key, self.string_map(m[key], key, m, key))
        if "resources" in m:
            dep.resources = self.resources(m["resources"], "resources", m, "resources")
        return dep


def _kind(value: Any) -> str:
    """What a YAML value is, in the words of the spec's documentation (never a Python class name)."""
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "a mapping" if isinstance(value, dict) else "a value"


def loads(text: str, source: str = "<spec>") -> Deployment:
    """Parse a spec document (YAML or JSON) into a Deployment; GraphError names the failing place."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        pos = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = str(getattr(err, "problem", None) or err)
        opened = getattr(err, "context_mark", None)
        if opened is not None and mark is not None and opened.line != mark.line:
            problem += f" (in what begins at line {opened.line + 1}, column {opened.column + 1})"
        if "\\t" in problem or "tab" in problem:
            problem += "; YAML indents with spaces only"
        raise GraphError(f"not valid YAML: {problem}", pos) from None
    if doc is None:
        raise GraphError("the spec is empty", source)
    return _Reader(source).deployment(doc)


def load(path: Path) -> Deployment:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphError("cannot read the spec: no such file (see docs/graphs.md)", str(path)) from None
    except OSError as err:
        raise GraphError(f"cannot read the spec: {(err.strerror or str(err)).lower()}", str(path)) from None
    except UnicodeDecodeError as err:
        raise GraphError(f"not UTF-8 text (invalid byte at offset {err.start})", str(path)) from None
    return loads(text, str(path))
