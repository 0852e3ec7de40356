"""`fadi-seldon new`: the command line, its output files, and the validator's verdict on what it emits."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fadi_seldon import cli
from fadi_seldon.sdep import graph
from fadi_seldon.sdep.graph import Deployment, Node, Parameter, Predictor, Resources
from fadi_seldon.sdep.predictor_servers import DEFAULT_SERVERS
from fadi_seldon.sdep.validator import validate_object


def _new(capsys, *argv):
    code = cli.main(["new", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ok(capsys, *argv) -> dict:
    code, out, err = _new(capsys, *argv)
    assert code == 0, err
    manifest = yaml.safe_load(out)
    assert validate_object(manifest) == [], "the validator must accept what `new` prints"
    return manifest


def _graph(manifest, i=0):
    return manifest["spec"]["predictors"][i]["graph"]


def test_prepackaged_server(capsys):
    m = _ok(capsys, "iris", "--server", "SKLEARN_SERVER", "--model-uri", "gs://b/iris", "--model-name", "clf")
    assert _graph(m) == {
        "name": "clf",
        "type": "MODEL",
        "implementation": "SKLEARN_SERVER",
        "modelUri": "gs://b/iris",
        "children": [],
    }


def test_env_secret_names_the_secret_the_storage_initializer_reads(capsys):
    """`--env-secret NAME`: the --server node's envSecretRefName, after its modelUri; with it an s3://
    model raises no warning (without it: model-uri-secret, the manifest still printed)."""
    argv = ["iris", "--server", "SKLEARN_SERVER", "--model-uri", "s3://models/iris/v1"]
    m = _ok(capsys, *argv, "--env-secret", "seldon-rclone-secret")
    assert list(_graph(m).items())[2:5] == [
        ("implementation", "SKLEARN_SERVER"),
        ("modelUri", "s3://models/iris/v1"),
        ("envSecretRefName", "seldon-rclone-secret"),
    ]
    code, out, err = _new(capsys, *argv)
    assert code == 0 and "envSecretRefName" not in out
    assert "warning: spec.predictors[0].graph.modelUri" in err and "[model-uri-secret]" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "--image", "r/a:1", "--env-secret", "s"], "--env-secret goes with --server"),
        (
            ["x", "--model", "m=SKLEARN_SERVER:s3://b/m", "--env-secret", "s"],
            "--env-secret goes with --server",
        ),
        (
            ["x", "--server", "SKLEARN_SERVER", "--model-uri", "s3://b/m", "--env-secret", "Creds_1"],
            "not a Secret name",
        ),
    ],
)
def test_env_secret_without_its_server_or_with_a_bad_name_is_refused(capsys, argv, message):
    code, out, err = _new(capsys, *argv)
    assert code == 2 and out == "" and message in err


def test_env_secret_in_a_graph_spec(capsys, tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("graph:\n  model: iris=SKLEARN_SERVER:s3://models/iris\n  envSecretRefName: creds\n")
    assert _graph(_ok(capsys, "iris", "--from", str(spec)))["envSecretRefName"] == "creds"
    code, _, err = _new(capsys, "iris", "--from", str(spec), "--env-secret", "other")
    assert code == 2 and "drop --env-secret" in err
    spec.write_text("graph:\n  model: c=r/c:1\n  envSecretRefName: creds\n")
    code, _, err = _new(capsys, "c", "--from", str(spec))
    assert code == 2 and "a custom image has no modelUri" in err


@pytest.mark.parametrize(
    ("server", "protocol"),
    [("HUGGINGFACE_SERVER", None), ("TRITON_SERVER", "seldon"), ("TENSORFLOW_SERVER", "v2")],
)
def test_a_server_without_an_image_for_the_protocol_is_the_validators_finding(capsys, server, protocol):
    argv = [
        "x",
        "--server",
        server,
        "--model-uri",
        "gs://b/m",
        *(["--protocol", protocol] if protocol else []),
    ]
    code, out, err = _new(capsys, *argv)
    assert code == 1 and out == ""
    assert f"{server} has no image for protocol {protocol or 'seldon'}" in err and "[server-protocol]" in err


def test_transformer_chain_order(capsys):
    m = _ok(
        capsys,
        "chain", "--image", "r/m:1", "--model-name", "m",
        "--transformer", "t1=r/t1:1", "--transformer", "t2=r/t2:1",
        "--output-transformer", "o1=r/o1:1", "--output-transformer", "o2=r/o2:1",
    )  # fmt: skip
    # response passes o1 then o2, so o2 is the root; the request passes t1 then t2
    path, node = [], _graph(m)
    while node:
        path.append((node["name"], node["type"]))
        node = node["children"][0] if node["children"] else None
    assert path == [
        ("o2", "OUTPUT_TRANSFORMER"),
        ("o1", "OUTPUT_TRANSFORMER"),
        ("t1", "TRANSFORMER"),
        ("t2", "TRANSFORMER"),
        ("m", "MODEL"),
    ]


def test_ab_test_with_ratio(capsys):
    m = _ok(
        capsys,
        "ab",
        "--model",
        "a=r/a:1",
        "--model",
        "b=r/b:1",
        "--router",
        "RANDOM_ABTEST",
        "--ratio-a",
        "0.8",
    )
    root = _graph(m)
    # no type: the executor would call a router container the built-in does not have
    assert root["implementation"] == "RANDOM_ABTEST" and "type" not in root
    assert root["parameters"] == [{"name": "ratioA", "type": "FLOAT", "value": "0.8"}]
    assert [c["name"] for c in root["children"]] == ["a", "b"]


def test_custom_router_and_combiner(capsys):
    m = _ok(capsys, "r", "--model", "a=r/a:1", "--model", "b=r/b:1", "--router", "pick=r/router:1")
    assert (_graph(m)["name"], _graph(m)["type"]) == ("pick", "ROUTER")
    m = _ok(
        capsys, "c", "--model", "a=r/a:1", "--model", "b=SKLEARN_SERVER:gs://b/m", "--combiner", "avg=r/avg:1"
    )
    assert _graph(m)["type"] == "COMBINER"
    names = [c["name"] for c in m["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"]]
    assert names == ["avg", "a"]  # the prepackaged child needs no container


def test_canary_and_shadow(capsys):
    m = _ok(
        capsys, "m", "--image", "r/m:1", "--canary", "r/m:2", "--canary-traffic", "30", "--shadow", "r/m:3"
    )
    preds = m["spec"]["predictors"]
    assert [(p["name"], p.get("traffic"), p.get("shadow", False)) for p in preds] == [
        ("default", 70, False),
        ("canary", 30, False),
        ("shadow", None, True),
    ]
    # the canary is a new version of the same node
    assert {p["graph"]["name"] for p in preds} == {"m"}
    assert preds[1]["componentSpecs"][0]["spec"]["containers"][0]["image"] == "r/m:2"


def test_deployment_options(capsys):
    m = _ok(
        capsys,
        "d", "--image", "r/m:1", "--namespace", "models", "--label", "team=ds", "--annotation", "a=b",
        "--replicas", "2", "--protocol", "v2", "--transport", "rest", "--api-version", "v1alpha3",
        "--requests", "cpu=100m", "--limits", "memory=1Gi", "--param", "m.temperature=0.5",
    )  # fmt: skip
    assert m["apiVersion"] == "machinelearning.seldon.io/v1alpha3"
    assert m["metadata"] == {
        "name": "d",
        "namespace": "models",
        "labels": {"team": "ds"},
        "annotations": {"a": "b"},
    }
    assert (m["spec"]["protocol"], m["spec"]["transport"]) == ("v2", "rest")
    pred = m["spec"]["predictors"][0]
    assert pred["replicas"] == 2
    assert pred["componentSpecs"][0]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "100m"},
        "limits": {"memory": "1Gi"},
    }
    assert pred["graph"]["parameters"] == [{"name": "temperature", "type": "FLOAT", "value": "0.5"}]


def test_json_output(capsys):
    code, out, _ = _new(capsys, "j", "--image", "r/m:1", "--output", "json")
    assert code == 0
    assert json.loads(out)["metadata"]["name"] == "j"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x"], "no model"),
        ([], "give the deployment a NAME"),
        (["x", "--model", "a=r/a:1", "--model", "b=r/b:1"], "need a --router or a --combiner"),
        (["x", "--image", "r/a:1", "--server", "SKLEARN_SERVER"], "choose one"),
        (["x", "--model-uri", "gs://x"], "goes with --server"),
        (["x", "--server", "sklearn"], "upper-case server name"),
        (["x", "--image", "r/a:1", "--ratio-a", "0.5"], "needs --router RANDOM_ABTEST"),
        (
            ["x", "--model", "a=r/a:1", "--model", "b=r/b:1", "--router", "r=r/r:1", "--ratio-a", ".5"],
            "only applies",
        ),
        (["x", "--image", "r/a:1", "--canary", "r/a:2", "--canary-traffic", "100"], "between 1 and 99"),
        (
            ["x", "--model", "a=r/a:1", "--model", "b=r/b:1", "--combiner", "c=r/c:1", "--canary", "r/a:2"],
            "--from",
        ),
        (["x", "--image", "r/a:1", "--param", "nope.p=1"], "no graph node named 'nope'"),
        (["x", "--image", "r/a:1", "--param", "p=1"], "NODE.NAME=VALUE"),
        (["x", "--image", "r/a:1", "--label", "novalue"], "KEY=VALUE"),
        (["x", "--image", "r/a:1", "--requests", "cpu=much"], "quantity"),
        (["X_bad", "--image", "r/a:1"], "DNS label"),
    ],
)
def test_bad_flags_exit_2_with_a_message(capsys, argv, message):
    code, out, err = _new(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_a_manifest_the_validator_refuses_exits_1_with_the_rule(capsys):
    """Since graph.to_manifest applies the validator's rules (graph.ManifestRefused), what they refuse
    is a finding (exit 1, cli/exit_codes.py), like any validator error, no longer a builder error (2)."""
    code, out, err = _new(capsys, "x", "--server", "SKLEARN_SERVER")
    assert code == 1
    assert out == ""
    assert "needs a modelUri" in err and "[webhook-model-uri]" in err
    assert "Traceback" not in err


def test_output_file_is_never_overwritten_without_force(capsys, tmp_path):
    target = tmp_path / "dep.yaml"
    target.write_text("mine\n")
    code, _, err = _new(capsys, "a", "--image", "r/m:1", "--output-file", str(target))
    assert code == 1 and "--force" in err
    assert target.read_text() == "mine\n"
    code, _, err = _new(capsys, "a", "--image", "r/m:1", "--output-file", str(target), "--force")
    assert code == 0
    assert yaml.safe_load(target.read_text())["metadata"]["name"] == "a"
    assert (tmp_path / "dep.yaml.bak").read_text() == "mine\n"


def test_from_spec(capsys, tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("graph:\n  combiner: c=r/c:1\n  children: [{model: a=r/a:1}, {model: b=r/b:1}]\n")
    m = _ok(capsys, "ens", "--from", str(spec), "--namespace", "ns", "--replicas", "3")
    assert m["metadata"] == {"name": "ens", "namespace": "ns"}
    assert m["spec"]["predictors"][0]["replicas"] == 3
    code, _, err = _new(capsys, "--from", str(spec))
    assert code == 2 and "no name" in err
    code, _, err = _new(capsys, "x", "--from", str(spec), "--image", "r/a:1")
    assert code == 2 and "drop --image" in err


# ---- property: whatever the builder emits, the validator accepts with zero findings ----

_SERVERS_BY_PROTOCOL = {
    proto: sorted(name for name, s in DEFAULT_SERVERS.items() if proto in s["protocols"])
    for proto in ("seldon", "v2", "tensorflow")
}


@st.composite
def _leaf(draw, protocol):
    servers = _SERVERS_BY_PROTOCOL[protocol]
    if servers and draw(st.booleans()):
        impl = draw(st.sampled_from(servers))
        uri = draw(st.sampled_from(["gs://bucket/model", "s3://bucket/m", "pvc://claim/path"]))
        # s3:// is readable by the initializer only with a Secret configuring rclone's `s3` remote
        secret = "seldon-rclone-secret" if uri.startswith("s3://") else None
        return Node(name="", implementation=impl, model_uri=uri, env_secret_ref_name=secret)
    return Node(name="", image=draw(st.sampled_from(["repo/model:1", "registry.local:5000/team/m:2.1"])))


def _tree(protocol):
    def extend(children):
        custom = st.sampled_from(["repo/unit:1", "r/u:2"])
        return st.one_of(
            st.builds(lambda c, i: Node("", "TRANSFORMER", image=i, children=[c]), children, custom),
            st.builds(lambda c, i: Node("", "OUTPUT_TRANSFORMER", image=i, children=[c]), children, custom),
            st.builds(
                lambda cs, i: Node("", "ROUTER", image=i, children=cs),
                st.lists(children, min_size=1, max_size=3),
                custom,
            ),
            st.builds(
                lambda cs, r: Node(
                    "",
                    "ROUTER",
                    implementation="RANDOM_ABTEST",
                    parameters=[Parameter("ratioA", repr(r), "FLOAT")],
                    children=cs,
                ),
                st.lists(children, min_size=2, max_size=2),
                st.floats(0, 1),
            ),
            st.builds(
                lambda cs, i: Node("", "COMBINER", image=i, children=cs),
                st.lists(children, min_size=1, max_size=3),
                custom,
            ),
        )

    return st.recursive(_leaf(protocol), extend, max_leaves=6)


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children), default=0)


@st.composite
def _deployments(draw):
    protocol = draw(st.sampled_from(["seldon", "v2", "tensorflow"]))
    n_main = draw(st.integers(1, 3))
    trees = [draw(_tree(protocol).filter(lambda n: _depth(n) <= 6)) for _ in range(n_main)]
    shadow = draw(st.booleans())
    if shadow:
        trees.append(draw(_leaf(protocol)))
    name_prefix = draw(st.sampled_from(["n", "node-", "a1"]))
    predictors = []
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n_main - 1, max_size=n_main - 1)))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    for i, tree in enumerate(trees):
        for j, node in enumerate(tree.walk()):
            node.name = f"{name_prefix}{j}"
        is_shadow = shadow and i == len(trees) - 1
        traffic = None if is_shadow or n_main == 1 else shares[i]
        predictors.append(Predictor(name=f"p{i}", graph=tree, traffic=traffic, shadow=is_shadow))
    endpoint = draw(st.sampled_from([None, "REST", "GRPC"]))
    if endpoint:
        for p in predictors:
            for node in p.graph.walk():
                node.endpoint_type = endpoint
    return Deployment(
        name=draw(st.from_regex(r"[a-z][a-z0-9]{0,20}", fullmatch=True)),
        predictors=predictors,
        api_version=draw(st.sampled_from(graph.API_VERSIONS)),
        protocol=protocol,
        transport=(endpoint or "").lower() or draw(st.sampled_from([None, "rest", "grpc"])),
        namespace=draw(st.sampled_from([None, "default", "models"])),
        labels=draw(st.dictionaries(st.sampled_from(["team", "app", "tier"]), st.sampled_from(["a", "b-1"]))),
        resources=draw(st.sampled_from([None, Resources({"cpu": "100m"}, {"memory": "1Gi"})])),
    )


def test_every_generated_manifest_passes_the_validator():
    @given(_deployments())
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(dep):
        manifest = graph.to_manifest(dep)
        findings = validate_object(manifest)
        assert findings == [], (
            "\n" + graph.dump(manifest) + "\n".join(f"{f.rule} {f.path} {f.message}" for f in findings)
        )

    check()


@given(
    ratio=st.floats(0, 1),
    n_transformers=st.integers(0, 2),
    n_outputs=st.integers(0, 2),
    canary=st.booleans(),
    api=st.sampled_from(graph.API_VERSIONS),
)
@settings(max_examples=60, deadline=None)
def test_every_flag_combination_passes_the_validator(ratio, n_transformers, n_outputs, canary, api):
    argv = ["gen", "--api-version", api]
    argv += [a for i in range(n_transformers) for a in ("--transformer", f"t{i}=r/t:{i}")]
    argv += [a for i in range(n_outputs) for a in ("--output-transformer", f"o{i}=r/o:{i}")]
    if canary:
        argv += ["--image", "r/m:1", "--canary", "r/m:2", "--canary-traffic", "15"]
    else:
        argv += ["--model", "a=r/a:1", "--model", "b=SKLEARN_SERVER:gs://b/m", "--router", "RANDOM_ABTEST"]
        argv += ["--ratio-a", repr(ratio)]
    args = cli.build_parser("new").parse_args(["new", *argv])
    from fadi_seldon.cli.commands import new
    from fadi_seldon.sdep import options

    manifest = graph.to_manifest(options.from_flags(new.to_options(args)))
    assert validate_object(manifest) == []


def test_committed_examples_are_accepted_by_the_validator(repo_root):
    from fadi_seldon.dev import examples

    manifests = [
        *examples.NEW_COMMANDS,
        *examples.SPEC_COMMANDS,
        f"{examples.IRIS_MODEL_DIR}/deployment.yaml",
    ]
    for rel in manifests:
        manifest = yaml.safe_load((repo_root / rel).read_text())
        assert validate_object(manifest) == [], rel


def test_user_guide_example_matches_the_guide(repo_root, conformance_dir):
    """examples/seldon-model.yaml says what the FADI user guide's first SeldonDeployment says.

    The guide sits in the shared folder beside the conformance corpus (same documented skip when absent).
    """
    from conftest import SEED_GUIDE

    assert SEED_GUIDE.parent.parent == conformance_dir.parent
    guide = SEED_GUIDE.read_text()
    block = guide.split("```yaml\napiVersion: machinelearning.seldon.io/v1alpha2", 1)[1].split("```", 1)[0]
    expected = yaml.safe_load("apiVersion: machinelearning.seldon.io/v1alpha2" + block)
    assert yaml.safe_load((repo_root / "examples" / "seldon-model.yaml").read_text()) == expected


def test_validator_errors_stop_the_output(capsys):
    """What the builder lets through but the operator would refuse is reported, and nothing is printed."""
    code, out, err = _new(capsys, "x", "--image", "r/a:1", "--endpoint-type", "REST", "--transport", "grpc")
    assert code == 1 and out == ""
    assert "error: spec" in err and "[webhook-mixed-transport]" in err


def test_an_unknown_server_is_refused_unless_the_users_values_configure_it(capsys, tmp_path):
    code, out, err = _new(capsys, "x", "--server", "LIGHTGBM_SERVER", "--model-uri", "gs://b/m")
    assert code == 1 and out == ""
    assert "error:" in err and "[unknown-server]" in err and "predictor_servers.LIGHTGBM_SERVER" in err
    values = tmp_path / "fadi.yaml"
    values.write_text("seldon-core-operator:\n  predictor_servers:\n    LIGHTGBM_SERVER: {protocols: {}}\n")
    code, out, err = _new(
        capsys, "x", "--server", "LIGHTGBM_SERVER", "--model-uri", "gs://b/m", "--values", str(values)
    )
    assert code == 0 and err == ""
    assert yaml.safe_load(out)["spec"]["predictors"][0]["graph"]["implementation"] == "LIGHTGBM_SERVER"


def test_validator_warnings_are_shown_but_the_manifest_is_printed(capsys):
    code, out, err = _new(capsys, "x" * 40, "--image", "r/a:1", "--predictor", "p" * 30)
    assert code == 0 and yaml.safe_load(out)["spec"]["predictors"][0]["name"] == "p" * 30
    assert "warning:" in err and "[hashed-name]" in err


def test_a_bad_values_file_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "v.yaml").write_text("predictor_servers: [A]\n")
    code, out, err = _new(capsys, "x", "--image", "r/a:1", "--values", str(tmp_path / "v.yaml"))
    assert code == 2 and out == "" and "--values" in err and "v.yaml" in err


def test_o_is_the_format_and_output_file_the_destination(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _new(capsys, "a", "--image", "r/m:1", "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == "a"
    assert list(tmp_path.iterdir()) == [], "-o json prints JSON: it never writes a file named json"
    with pytest.raises(SystemExit) as info:
        cli.main(["new", "a", "--image", "r/m:1", "-o", "a.yaml"])
    assert info.value.code == 2
    assert "--output-file a.yaml" in capsys.readouterr().err


def test_examples_are_built_from_the_same_options_as_the_command():
    """dev/examples.py reads its words without the CLI; argparse must read them the same way."""
    from fadi_seldon.cli.commands import new
    from fadi_seldon.dev import examples
    from fadi_seldon.sdep import options

    commands = [*examples.NEW_COMMANDS.values(), *(["--from", s] for s in examples.SPEC_COMMANDS.values())]
    for argv in commands:
        args = cli.build_parser("new").parse_args(["new", *argv])
        assert options.from_words(argv) == new.to_options(args), argv


def test_every_flag_of_the_command_is_an_option_of_the_domain():
    from fadi_seldon.sdep import options

    parser = cli.build_parser("new")
    new_parser = parser._subparsers._group_actions[0].choices["new"]
    dests = {a.dest: a.option_strings for a in new_parser._actions}
    for flag, option in options.FLAGS.items():
        assert flag in dests[option], flag
    assert options.option_names() <= set(dests)


def test_options_from_words_report_bad_words():
    from fadi_seldon.sdep import options

    opts = options.from_words(["m", "--model", "a=r/a:1", "--model", "b=r/b:1", "--replicas", "2"])
    assert (opts.name, opts.models, opts.replicas) == ("m", ["a=r/a:1", "b=r/b:1"], 2)
    for words, message in (
        (["m", "--replicas", "two"], "expects a number"),
        (["m", "--nope", "x"], "unknown option"),
        (["m", "--image"], "pairs"),
    ):
        with pytest.raises(graph.GraphError, match=message):
            options.from_words(words)


def test_the_demo_applies_the_guide_s_text_byte_for_byte(repo_root, conformance_dir):
    """examples/user-guide/seldon-model.yaml is the guide's block as printed (the demo and the cluster
    suite `kubectl apply -f` it unmodified), and it is what `new` generates for the guide's example."""
    from conftest import SEED_GUIDE

    block = SEED_GUIDE.read_text().split("```yaml\napiVersion: machinelearning.seldon.io/v1alpha2", 1)[1]
    text = "apiVersion: machinelearning.seldon.io/v1alpha2" + block.split("```", 1)[0]
    verbatim = (repo_root / "examples" / "user-guide" / "seldon-model.yaml").read_text()
    assert verbatim == text
    generated = yaml.safe_load((repo_root / "examples" / "seldon-model.yaml").read_text())
    assert yaml.safe_load(verbatim) == generated
    assert "seldon.io/no-engine" not in verbatim
