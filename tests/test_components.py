"""Graph components a user writes (examples/components/): packaged like a model, refused when the
class cannot serve its service type, and answering through the real Seldon wrapper.

The commands come from docs/graphs.md ("Components you write"), so the page stays true: its
`package` lines build every example, its `new` lines make the graphs whose answers are checked here.
The wrapper tests start every example at once with `fadi-seldon serve` (the wrapper's venv is
created once, as for tests/test_serve.py) and pass the requests from node to node along the graph
`new` wrote, calling each node's path in the executor's order (input transform or prediction,
routing, the children, aggregation, output transform).
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from fadi_seldon import cli
from fadi_seldon.dev import examples
from fadi_seldon.model import packaging
from fadi_seldon.sdep.validator import validate_object
from served import ServeProcess

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ROOT / "examples" / "components"
# folder -> (service type, class): every example, each packaged by one command of the docs
EXPECTED = {
    "input-transformer": ("TRANSFORMER", "FeatureScaler"),
    "output-transformer": ("OUTPUT_TRANSFORMER", "ArgMax"),
    "router": ("ROUTER", "ThresholdRouter"),
    "combiner": ("COMBINER", "MeanCombiner"),
    "constant-model-a": ("MODEL", "ConstantModelA"),
    "constant-model-b": ("MODEL", "ConstantModelB"),
}
A_ROW, B_ROW = [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]
SETOSA_MM, VIRGINICA_MM = [51, 35, 14, 2], [63, 33, 60, 25]
SETOSA_CM, VIRGINICA_CM = [5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]


def _doc_commands(verb: str) -> list[list[str]]:
    """The arguments of every `fadi-seldon VERB ...` line of the docs' section on components."""
    text = (ROOT / "docs" / "graphs.md").read_text()
    section = text.split("\n## Components you write\n", 1)[1].split("\n## ", 1)[0]
    prefix = f"fadi-seldon {verb} "
    return [shlex.split(line)[2:] for line in section.splitlines() if line.startswith(prefix)]


def _package_command(folder: str) -> list[str]:
    [argv] = [a for a in _doc_commands("package") if a[0] == f"examples/components/{folder}"]
    return argv


def _flag(argv: list[str], name: str, default: str | None = None) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else default


def _images() -> dict[str, Path]:
    """image -> folder, for every example (and the iris model the chain graph uses)."""
    out = {_flag(a, "--image"): ROOT / a[0] for a in _doc_commands("package")}
    return {**out, examples.IRIS_MODEL_IMAGE: ROOT / examples.IRIS_MODEL_DIR}


def test_the_docs_package_every_example_once():
    folders = [argv[0] for argv in _doc_commands("package")]
    assert sorted(folders) == sorted(f"examples/components/{f}" for f in EXPECTED)
    assert sorted(p.name for p in COMPONENTS.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_each_example_packages_with_its_service_type(folder, tmp_path, capsys):
    service_type, class_name = EXPECTED[folder]
    source = tmp_path / folder  # same folder name: requirements-seldon.txt's header names it
    source.mkdir()
    for path in (COMPONENTS / folder).glob("*.py"):
        shutil.copy(path, source)
    shutil.copy(COMPONENTS / folder / "requirements.txt", source)
    argv = _package_command(folder)
    assert _flag(argv, "--service-type", "MODEL") == service_type
    code = cli.main(["package", str(source), *argv[1:], "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert (report["class"], report["service_type"]) == (class_name, service_type)
    wrapper_type = packaging.SERVICE_TYPES[service_type][1]
    dockerfile = (source / "Dockerfile").read_text()
    assert f"ENV MODEL_NAME={class_name} \\\n    SERVICE_TYPE={wrapper_type}\n" in dockerfile
    assert (
        (source / ".s2i" / "environment")
        .read_text()
        .startswith(f"MODEL_NAME={class_name}\nSERVICE_TYPE={wrapper_type}\n")
    )
    if service_type in ("ROUTER", "COMBINER"):
        # no graph without children: the note says how to build one
        assert not (source / "deployment.yaml").exists()
        assert any(f"fadi-seldon new NAME --{service_type.lower()} " in n for n in report["notes"])
    else:
        manifest = yaml.safe_load((source / "deployment.yaml").read_text())
        assert validate_object(manifest) == []
        assert manifest["spec"]["predictors"][0]["graph"]["type"] == service_type
    # the committed build context is what the documented command writes
    written = {e["path"] for e in report["files"]}
    for rel in written:
        assert (COMPONENTS / folder / rel).read_text() == (source / rel).read_text(), rel


# service type -> the method of another type that the refused class defines instead
WRONG_METHOD = {
    "MODEL": ("route", "ROUTER"),
    "TRANSFORMER": ("transform_output", "OUTPUT_TRANSFORMER"),
    "OUTPUT_TRANSFORMER": ("predict", "MODEL"),
    "ROUTER": ("aggregate", "COMBINER"),
    "COMBINER": ("transform_input", "TRANSFORMER"),
}


@pytest.mark.parametrize("service_type", sorted(WRONG_METHOD))
def test_a_class_without_its_method_is_refused(service_type, tmp_path, capsys):
    other, other_type = WRONG_METHOD[service_type]
    needed = packaging.SERVICE_TYPES[service_type][0][0]
    source = tmp_path / "Wrong.py"
    source.write_text(
        f"import numpy\n\n\nclass Wrong:\n    labels = []\n\n    def {other}(self, X, names=None):\n        return X\n"
    )
    first = "Xs" if needed == "aggregate" else "X"
    stub = f"Add `def {needed}(self, {first}, features_names=None): ...`"
    hint = f"Wrong defines {other}(): package it with --service-type {other_type}"
    common = ["package", str(tmp_path), "--service-type", service_type]
    assert cli.main([*common, "--class", "Wrong"]) == 1
    err = capsys.readouterr().err
    assert f"{source}:4: class Wrong has no {needed}() method, which service type {service_type} needs" in err
    assert f"(methods defined: {other})" in err  # a class attribute is no method
    assert stub in err and hint in err
    # without --class: no candidate, the classes seen with their place, the same advice
    assert cli.main(common) == 1
    err = capsys.readouterr().err
    assert f"no class defines {needed}() for service type {service_type}" in err
    assert f"Wrong ({source}:4)" in err and stub in err and hint in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Wrong.py"], "nothing written"


def _class_with(tmp_path: Path, body: str) -> Path:
    (tmp_path / "Comp.py").write_text("class Comp:\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return tmp_path


@pytest.mark.parametrize(
    ("service_type", "body", "problem"),
    [
        ("ROUTER", "def route(self, X):\n    return 0\n", "has the parameters (self, X)"),
        ("COMBINER", "def aggregate(self, Xs, names, meta):\n    return Xs[0]\n", "(Xs, features_names)"),
        ("MODEL", "def predict(self, X, names, extra):\n    return X\n", "cannot take the arguments"),
        ("OUTPUT_TRANSFORMER", "def transform_output(self, X, n=None, *, scale):\n    return X\n", "scale"),
        ("TRANSFORMER", "async def transform_input(self, X, n=None):\n    return X\n", "`async def`"),
        ("ROUTER", "def route_raw(self):\n    return 0\n", "the arguments (msg)"),
    ],
)
def test_a_method_the_wrapper_cannot_call_is_refused(service_type, body, problem, tmp_path):
    folder = _class_with(tmp_path, body)
    method = body.split("def ", 1)[1].split("(", 1)[0]
    with pytest.raises(packaging.PackageError) as refused:
        packaging.find_class(folder, None, service_type)
    message = str(refused.value)
    assert message.startswith(f"{folder / 'Comp.py'}:2: Comp.{method}() ")
    assert problem in message and f"service type {service_type}" in message
    assert "Write `def " in message


@pytest.mark.parametrize(
    ("service_type", "body"),
    [
        ("MODEL", "def predict(self, X, names, meta):\n    return X\n"),  # meta comes by keyword
        ("ROUTER", "def route(self, *args, **kwargs):\n    return 0\n"),
        ("COMBINER", "@staticmethod\ndef aggregate(Xs, names):\n    return Xs[0]\n"),
        ("ROUTER", "def route_raw(self, msg):\n    return 0\n"),
        ("TRANSFORMER", "transform_input = staticmethod(lambda X, names=None: X)\n"),
        ("OUTPUT_TRANSFORMER", "def transform_output(self, X, /, names, *, scale=1):\n    return X\n"),
    ],
)
def test_methods_the_wrapper_can_call_are_accepted(service_type, body, tmp_path):
    assert packaging.find_class(_class_with(tmp_path, body), None, service_type).name == "Comp"


def _new(capsys, argv: list[str]) -> dict:
    code = cli.main(["new", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _graphs(capsys) -> dict[str, dict]:
    """name -> the manifest each documented `new` command writes."""
    return {argv[0]: _new(capsys, argv) for argv in _doc_commands("new")}


def test_the_documented_graphs_use_the_packaged_images(capsys):
    graphs = _graphs(capsys)
    assert sorted(graphs) == ["ensemble", "full", "iris-chain", "routed"]
    images = _images()
    for name, manifest in graphs.items():
        assert validate_object(manifest) == [], name
        containers = manifest["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"]
        assert {c["image"] for c in containers} <= set(images), name
    top = graphs["full"]["spec"]["predictors"][0]["graph"]
    assert [top["type"], top["children"][0]["type"], top["children"][0]["children"][0]["type"]] == [
        "OUTPUT_TRANSFORMER",
        "TRANSFORMER",
        "ROUTER",
    ]


# --- the examples served by the real wrapper -------------------------------------------------


@pytest.fixture(scope="module")
def served(serve_venv) -> dict[str, str]:
    """image -> URL of `fadi-seldon serve` running it (all started together, without gRPC)."""
    types = {f"examples/components/{f}": t for f, (t, _) in EXPECTED.items()}
    servers = {}
    try:
        for image, folder in _images().items():
            service_type = types.get(str(folder.relative_to(ROOT)), "MODEL")
            servers[image] = ServeProcess(
                "FADI_SERVE_VENV", serve_venv, str(folder), "--service-type", service_type, "--no-grpc"
            )
        for server in servers.values():
            server.wait_for("/health/ping", lambda status, body: body.strip() == b"pong", 90)
        yield {image: server.url for image, server in servers.items()}
    finally:
        # SIGTERM to every serve first, as a user stops it: serve ends its whole tree; killing the
        # wrapper's processes one by one instead races gunicorn, which re-forks a killed worker
        for server in servers.values():
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in servers.values():
            server.close(graceful=True)


def _call(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{url}{path} answered HTTP {err.code}: {err.read()[:2000]!r}") from None


def _ndarray(rows: list) -> dict:
    return {"data": {"ndarray": rows}}


def test_each_example_answers_its_executor_call(served):
    url = {folder: served[_flag(_package_command(folder), "--image")] for folder in EXPECTED}
    scaled = _call(url["input-transformer"], "/transform-input", _ndarray([SETOSA_MM]))
    assert scaled["data"]["ndarray"] == [pytest.approx(SETOSA_CM)]
    assert scaled["meta"]["tags"] == {"scaled_by": 0.1}
    arg_max = _call(url["output-transformer"], "/transform-output", _ndarray([B_ROW, A_ROW]))
    assert arg_max["data"] == {"names": ["class_index"], "ndarray": [[2], [0]]}
    for row, child in (
        (SETOSA_CM, 0),
        (VIRGINICA_CM, 1),
        ([5.0, 3.0, 2.49, 0.5], 0),
        ([5.0, 3.0, 2.5, 0.5], 1),
    ):
        assert _call(url["router"], "/route", _ndarray([row]))["data"]["ndarray"] == [[child]], row
    mean = _call(url["combiner"], "/aggregate", {"seldonMessages": [_ndarray([A_ROW]), _ndarray([B_ROW])]})
    assert mean["data"]["ndarray"] == [pytest.approx([0.4, 0.25, 0.35])]
    with pytest.raises(AssertionError, match="children answered with different shapes"):
        _call(url["combiner"], "/aggregate", {"seldonMessages": [_ndarray([A_ROW]), _ndarray([[1.0, 2.0]])]})
    for folder, row in (("constant-model-a", A_ROW), ("constant-model-b", B_ROW)):
        answer = _call(url[folder], "/predict", _ndarray([SETOSA_CM, VIRGINICA_CM]))
        assert answer["data"]["ndarray"] == [row, row]
        assert answer["meta"]["tags"] == {"served_by": folder}


def _through(node: dict, message: dict, urls: dict[str, str]) -> dict:
    """One node of the graph as the executor runs it: its input transform (a model's prediction),
    the route, the children, the aggregation, the output transform."""
    url, kind = urls[node["name"]], node["type"]
    if kind in ("MODEL", "TRANSFORMER"):
        message = _call(url, "/predict" if kind == "MODEL" else "/transform-input", message)
    children = node.get("children") or []
    if children:
        route = _call(url, "/route", message)["data"]["ndarray"][0][0] if kind == "ROUTER" else -1
        answers = [
            _through(child, message, urls) for child in (children if route == -1 else [children[route]])
        ]
        message = _call(url, "/aggregate", {"seldonMessages": answers}) if kind == "COMBINER" else answers[0]
    if kind == "OUTPUT_TRANSFORMER":
        message = _call(url, "/transform-output", message)
    return message


# graph -> (request rows, answer rows, the constant model that answered or None), as docs/graphs.md says
GRAPH_ANSWERS = {
    "iris-chain": [([SETOSA_MM, VIRGINICA_MM], [[0], [2]], None)],
    "routed": [([SETOSA_CM], [A_ROW], "constant-model-a"), ([VIRGINICA_CM], [B_ROW], "constant-model-b")],
    "ensemble": [([SETOSA_CM, VIRGINICA_CM], [[0.4, 0.25, 0.35]] * 2, None)],
    "full": [([SETOSA_MM], [[0]], "constant-model-a"), ([VIRGINICA_MM], [[2]], "constant-model-b")],
}


def test_the_documented_graphs_answer_through_the_wrapper(served, capsys):
    for name, manifest in _graphs(capsys).items():
        predictor = manifest["spec"]["predictors"][0]
        containers = predictor["componentSpecs"][0]["spec"]["containers"]
        urls = {c["name"]: served[c["image"]] for c in containers}
        for rows, expected, served_by in GRAPH_ANSWERS[name]:
            answer = _through(predictor["graph"], _ndarray(rows), urls)
            assert answer["data"]["ndarray"] == [pytest.approx(row) for row in expected], (name, rows)
            if served_by:
                assert answer["meta"]["tags"]["served_by"] == served_by, (name, rows)
