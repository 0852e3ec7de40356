"""Seldon's operator and executor built from Seldon's source release: finding and checking the archive
(before anything is built), extracting it once, the wrapper module, the build environment, the cache.

Fast and offline: fake archives in tmp_path and a fake `go`; the real build is `tools install
seldon-operator seldon-executor` (tests/test_tools_installed.py checks what it installed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import Recorder
from fadi_seldon import tools as toolchain
from fadi_seldon.tools import Progress, SourceRelease, Toolchain, ToolError, probe, source_release, sources

OPERATOR = "github.com/seldonio/seldon-core/operator"
EXECUTOR = "github.com/seldonio/seldon-core/executor"
# the directives of upstream's executor/go.mod at 1.17.1 that matter here, in its own layout
EXECUTOR_GO_MOD = f"""module {EXECUTOR}

go 1.17

require (
\tgithub.com/confluentinc/confluent-kafka-go v1.8.2
\t{OPERATOR} v0.0.0-00010101000000-000000000000
\tgithub.com/tensorflow/tensorflow/tensorflow/go/core v0.0.0-00010101000000-000000000000
)

replace github.com/tensorflow/tensorflow/tensorflow/go/core => ./proto/tensorflow/core

replace {OPERATOR} => ./_operator

replace k8s.io/client-go => k8s.io/client-go v0.24.2 // pinned

replace github.com/codahale/hdrhistogram => github.com/HdrHistogram/hdrhistogram-go v1.1.2

exclude github.com/go-logr/logr v1.0.0
"""
OPERATOR_GO_MOD = f"""module {OPERATOR}

go 1.17

require k8s.io/client-go v0.23.6

replace k8s.io/client-go => k8s.io/client-go v0.24.1

exclude github.com/go-logr/logr v1.0.0
"""
FILES = {
    "LICENSE": "Apache License 2.0\n",
    "operator/go.mod": OPERATOR_GO_MOD,
    "operator/go.sum": "k8s.io/client-go v0.24.1 h1:op=\nshared.example/m v1.0.0 h1:same=\n",
    "operator/main.go": "package main\n",
    "executor/go.mod": EXECUTOR_GO_MOD,
    "executor/go.sum": "k8s.io/client-go v0.24.2 h1:ex=\nshared.example/m v1.0.0 h1:same=\n",
    "executor/cmd/executor/main.go": "package main\n",
    "executor/proto/tensorflow/core/go.mod": "module github.com/tensorflow/tensorflow/tensorflow/go/core\n",
}


def make_archive(path: Path, top: str, files: dict[str, str] = FILES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_for(archive: Path, version: str = "9.9.9", **kw) -> SourceRelease:
    """A release pinned to `archive` (its real sha256), shaped as Seldon's."""
    base = dict(
        project="Seldon Core",
        version=version,
        file_name=archive.name,
        sha256=sha256(archive),
        top_folder=f"seldon-core-{version}",
        env_var="SELDON_CORE_SOURCE",
        otherwise="pull Seldon's published images from a registry",
    )
    base.update(kw)
    return SourceRelease(**base)


@pytest.fixture
def progress():
    return Progress(stream=Recorder(), heartbeat=0.05)


@pytest.fixture
def fake_archive(tmp_path) -> Path:
    return make_archive(tmp_path / "dl" / "seldon-core-9.9.9.tar.gz", "seldon-core-9.9.9")


# --------------------------------------------------------------------------- the pin


def test_the_pin_is_seldons_1_17_1_source_release():
    release = toolchain.seldon_core_release()
    assert release.version == "1.17.1", "the last Apache-2.0 release of Seldon Core v1"
    assert release.file_name == "seldon-core-1.17.1.tar.gz"
    assert release.top_folder == "seldon-core-1.17.1" and release.module_version == "v1.17.1"
    assert re.fullmatch(r"[0-9a-f]{64}", release.sha256)
    assert release.env_var == "SELDON_CORE_SOURCE"


def test_operator_and_executor_are_source_builds_of_the_pinned_release():
    tools = toolchain.registry()
    operator, executor = tools["seldon-operator"], tools["seldon-executor"]
    for tool in (operator, executor):
        assert tool.group == "operator" and tool.version_key == "SELDON_CORE_VERSION"
        assert tool.go is None and tool.release is None, (
            "the module proxy refuses them; no binary is published"
        )
        assert tool.source.release() == toolchain.seldon_core_release()
    assert operator.executables == ("seldon-operator",) and operator.buildinfo_module == OPERATOR
    assert executor.executables == ("seldon-executor",) and executor.buildinfo_module == EXECUTOR
    assert operator.source.package == OPERATOR and operator.source.folders == {OPERATOR: "operator"}
    assert executor.source.package == f"{EXECUTOR}/cmd/executor"
    assert executor.source.folders == {EXECUTOR: "executor", OPERATOR: "operator"}
    assert executor.source.cgo and not operator.source.cgo, "confluent-kafka-go needs cgo; the operator not"


# --------------------------------------------------------------------------- finding and checking


def test_missing_archive_names_the_variable_the_file_its_sha256_and_the_ways_out(tmp_path):
    release = toolchain.seldon_core_release()
    with pytest.raises(ToolError) as err:
        source_release.resolve(release, env={}, root=tmp_path / "clone")
    msg = str(err.value)
    assert "SELDON_CORE_SOURCE is not set" in msg
    assert str(tmp_path / "shared" / "vendor" / "seldon-core-1.17.1.tar.gz") in msg, "where it looked"
    assert "seldon-core-1.17.1.tar.gz" in msg and release.sha256 in msg and "1.17.1" in msg
    assert "set SELDON_CORE_SOURCE to the path of Seldon Core's v1.17.1 source release" in msg
    assert "pull Seldon's published images" in msg


def test_a_variable_naming_no_file_is_an_error(tmp_path):
    release = toolchain.seldon_core_release()
    env = {"SELDON_CORE_SOURCE": str(tmp_path / "nope.tar.gz")}
    with pytest.raises(ToolError, match=r"SELDON_CORE_SOURCE=.*nope\.tar\.gz: no such file") as err:
        source_release.resolve(release, env=env, root=tmp_path)
    assert release.sha256 in str(err.value)


def test_another_file_is_refused_by_its_sha256(fake_archive, tmp_path):
    release = toolchain.seldon_core_release()  # the real pin: the fake archive is another file
    with pytest.raises(ToolError) as err:
        source_release.resolve(release, env={"SELDON_CORE_SOURCE": str(fake_archive)}, root=tmp_path)
    msg = str(err.value)
    assert f"sha256 {sha256(fake_archive)} is not the pinned {release.sha256}" in msg
    assert "either set SELDON_CORE_SOURCE" in msg and "or pull Seldon's published images" in msg


def test_default_is_shared_vendor_beside_the_checkout_and_the_variable_wins(tmp_path, fake_archive):
    clone = tmp_path / "clone"
    vendored = make_archive(tmp_path / "shared" / "vendor" / fake_archive.name, "seldon-core-9.9.9")
    release = release_for(vendored)
    assert source_release.resolve(release, env={}, root=clone) == vendored.resolve()
    elsewhere = tmp_path / "elsewhere" / fake_archive.name
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(vendored.read_bytes())
    assert (
        source_release.resolve(release, env={"SELDON_CORE_SOURCE": str(elsewhere)}, root=clone) == elsewhere
    )


def test_an_archive_with_another_top_folder_is_refused(tmp_path):
    archive = make_archive(tmp_path / "seldon-core-9.9.9.tar.gz", "seldon-core-master")
    release = release_for(archive)  # its sha256 matches: only the layout is wrong
    with pytest.raises(ToolError, match=r"top folder is seldon-core-master, not seldon-core-9\.9\.9/"):
        source_release.resolve(release, env={"SELDON_CORE_SOURCE": str(archive)})


def test_a_file_that_is_no_tar_archive_is_refused(tmp_path):
    archive = tmp_path / "seldon-core-9.9.9.tar.gz"
    archive.write_bytes(b"not a tar")
    with pytest.raises(ToolError, match="not a readable tar archive"):
        source_release.resolve(release_for(archive), env={"SELDON_CORE_SOURCE": str(archive)})


# --------------------------------------------------------------------------- extracting


def test_the_archive_is_extracted_once_keyed_by_its_sha256(tmp_path, fake_archive, progress):
    layout = toolchain.Layout(tmp_path / "tools")
    release = release_for(fake_archive)
    tree = source_release.extract(release, fake_archive, layout, progress)
    assert tree == layout.source_dir / f"seldon-core-9.9.9-{release.sha256[:12]}" / "seldon-core-9.9.9"
    assert (tree / "executor" / "go.mod").read_text() == EXECUTOR_GO_MOD
    # a second call uses the folder: it does not even open the archive
    assert source_release.extract(release, tmp_path / "gone.tar.gz", layout, progress) == tree
    assert [p.name for p in layout.source_dir.iterdir()] == [tree.parent.name], "no temporary folder left"


def test_an_interrupted_extraction_is_not_used(tmp_path, fake_archive, progress):
    layout = toolchain.Layout(tmp_path / "tools")
    release = release_for(fake_archive)
    half = layout.source_dir / f"seldon-core-9.9.9-{release.sha256[:12]}" / "seldon-core-9.9.9"
    half.mkdir(parents=True)  # no completion marker
    tree = source_release.extract(release, fake_archive, layout, progress)
    assert (tree / "operator" / "go.mod").is_file()


# --------------------------------------------------------------------------- the wrapper module


def seldon_tool(name: str, release: SourceRelease):
    """The catalog's entry, with its release replaced by `release` (same recipe: module, folders, cgo)."""
    tool = toolchain.registry()[name]
    return dataclasses.replace(
        tool, pin=release.version, source=dataclasses.replace(tool.source, release=lambda: release)
    )


def test_executor_wrapper_requires_both_modules_and_restates_upstreams_directives(tmp_path, fake_archive):
    release = release_for(fake_archive)
    tree, work = tmp_path / "tools" / "src" / "x" / "seldon-core-9.9.9", tmp_path / "tools" / "build" / "ex"
    text = sources.source_go_mod(
        seldon_tool("seldon-executor", release), release, tree, work, EXECUTOR_GO_MOD
    )
    assert "module local/fadi-tools/seldon-executor\n" in text and "\ngo 1.17\n" in text
    assert f"\t{EXECUTOR} v9.9.9\n" in text and f"\t{OPERATOR} v9.9.9\n" in text
    replaces = dict(re.findall(r"^replace (\S+(?: \S+)?) => (.+)$", text, re.M))
    local = {old: (work / new).resolve() for old, new in replaces.items() if new.startswith((".", "/"))}
    assert local == {
        EXECUTOR: (tree / "executor").resolve(),
        OPERATOR: (tree / "operator").resolve(),  # upstream's `=> ./_operator` (a copy of ../operator)
        "github.com/tensorflow/tensorflow/tensorflow/go/core": (
            tree / "executor/proto/tensorflow/core"
        ).resolve(),
    }
    assert "_operator" not in text
    assert replaces["k8s.io/client-go"] == "k8s.io/client-go v0.24.2", "the executor's, not the operator's"
    assert replaces["github.com/codahale/hdrhistogram"] == "github.com/HdrHistogram/hdrhistogram-go v1.1.2"
    assert "\nexclude github.com/go-logr/logr v1.0.0\n" in text
    assert all(not new.startswith("/") for new in replaces.values()), "relative: same build info anywhere"


def test_operator_wrapper_requires_the_operator_at_the_release_version(tmp_path, fake_archive):
    release = release_for(fake_archive)
    tree, work = tmp_path / "src" / "seldon-core-9.9.9", tmp_path / "build" / "op"
    text = sources.source_go_mod(
        seldon_tool("seldon-operator", release), release, tree, work, OPERATOR_GO_MOD
    )
    assert f"require (\n\t{OPERATOR} v9.9.9\n)" in text and EXECUTOR not in text
    assert f"replace {OPERATOR} => ../../src/seldon-core-9.9.9/operator\n" in text
    assert "replace k8s.io/client-go => k8s.io/client-go v0.24.1\n" in text
    assert release.sha256 in text, "the go.mod says which archive it builds"


def test_folder_paths_with_spaces_are_quoted(tmp_path, fake_archive):
    release = release_for(fake_archive)
    tree = tmp_path / "with space" / "seldon-core-9.9.9"
    text = sources.source_go_mod(
        seldon_tool("seldon-operator", release), release, tree, tmp_path / "build", OPERATOR_GO_MOD
    )
    assert f'replace {OPERATOR} => "../with space/seldon-core-9.9.9/operator"\n' in text


def test_build_environment_cgo_and_go_sum_filling():
    env = sources.go_env({"PATH": "/bin"}, cgo=True, fill_go_sum=True)
    assert env["CGO_ENABLED"] == "1" and "-mod=mod" in env["GOFLAGS"].split()
    assert env["GOTOOLCHAIN"] == "local" and "-buildvcs=false" in env["GOFLAGS"]
    plain = sources.go_env({"PATH": "/bin"})
    assert plain["CGO_ENABLED"] == "0" and "-mod=mod" not in plain["GOFLAGS"]
    assert sources.go_env({"GOFLAGS": "-mod=vendor"}, fill_go_sum=True)["GOFLAGS"] == "-mod=vendor"


# --------------------------------------------------------------------------- the whole install, with a fake go

FAKE_GO = r'''#!{python}
"""A stand-in for `go build`: records argv, the environment and the wrapper module, and writes a
binary whose embedded build info says what the wrapper's go.mod requires (as Go's would)."""
import json, os, re, sys
from pathlib import Path
args = sys.argv[1:]
go_mod = Path("go.mod").read_text() if Path("go.mod").exists() else ""
record = {{"args": args, "cgo": os.environ.get("CGO_ENABLED"), "goflags": os.environ.get("GOFLAGS"),
          "go_mod": go_mod, "go_sum": Path("go.sum").read_text() if Path("go.sum").exists() else ""}}
with open(os.environ["FAKE_GO_LOG"], "a") as f:
    f.write(json.dumps(record) + "\n")
if args[0] == "build":
    info = "".join("mod\t%s\t%s\n" % m for m in re.findall(r"^\t(\S+) (v\S+)$", go_mod, re.M))
    Path(args[args.index("-o") + 1]).write_text("#!/bin/sh\necho usage\n# " + info)
    os.chmod(args[args.index("-o") + 1], 0o755)
'''


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    go = tmp_path / "fake-go"
    go.write_text(FAKE_GO.format(python=sys.executable))
    go.chmod(0o755)
    log = tmp_path / "go-calls.jsonl"
    monkeypatch.setenv("FAKE_GO_LOG", str(log))
    monkeypatch.setenv("CC", "sh")  # any executable: the fake go compiles nothing
    return go, log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_wrong_archive_stops_the_install_before_anything_is_built(
    tmp_path, fake_go, fake_archive, progress, monkeypatch
):
    go, log = fake_go
    monkeypatch.setenv("SELDON_CORE_SOURCE", str(fake_archive))  # not the pinned sha256
    chain = Toolchain(tmp_path / "tools", sources=["source"], go=str(go), progress=progress)
    tool = toolchain.registry()["seldon-operator"]
    with pytest.raises(ToolError) as err:
        chain.install_one(tool)
    msg = str(err.value)
    assert "could not install seldon-operator 1.17.1" in msg and "source: " in msg
    assert toolchain.seldon_core_release().sha256 in msg and "SELDON_CORE_SOURCE" in msg
    assert calls(log) == [], "go must not run"
    assert not (chain.tools_dir / "src").exists() and not chain.pkg_dir(tool).exists()


def test_source_build_installs_checks_the_build_info_and_caches(
    tmp_path, fake_go, fake_archive, progress, monkeypatch
):
    go, log = fake_go
    monkeypatch.setenv("SELDON_CORE_SOURCE", str(fake_archive))
    release = release_for(fake_archive)
    chain = Toolchain(
        tmp_path / "tools",
        sources=["path", "release", "go", "source"],
        go=str(go),
        progress=progress,
        which=lambda name, path: None,  # nothing on PATH
    )
    executor = seldon_tool("seldon-executor", release)
    result = chain.install_one(executor)
    assert result.source == "source" and result.changed
    (build,) = calls(log)
    assert build["args"][:2] == ["build", "-trimpath"] and build["args"][-1] == f"{EXECUTOR}/cmd/executor"
    assert build["cgo"] == "1" and "-mod=mod" in build["goflags"].split()
    assert f"\t{OPERATOR} v9.9.9\n" in build["go_mod"]
    assert build["go_sum"].splitlines() == sorted(
        {
            "k8s.io/client-go v0.24.1 h1:op=",
            "k8s.io/client-go v0.24.2 h1:ex=",
            "shared.example/m v1.0.0 h1:same=",
        }
    ), "upstream's recorded hashes, both modules, once each"
    assert chain.pkg_dir(executor).name == f"9.9.9-{release.sha256[:12]}"
    assert probe.buildinfo_version(chain.bin_dir / "seldon-executor", EXECUTOR) == "v9.9.9"
    assert not chain.layout.build_dir(executor).exists(), "the wrapper module is removed after the build"
    assert "building from Seldon Core's source release" in progress.stream.text

    again = chain.install_one(executor)
    assert again.source == "cached" and not again.changed and len(calls(log)) == 1, "a cache hit runs no go"

    operator = seldon_tool("seldon-operator", release)
    assert chain.install_one(operator).source == "source"
    assert calls(log)[-1]["cgo"] == "0" and calls(log)[-1]["args"][-1] == OPERATOR
    assert len(list((chain.tools_dir / "src").iterdir())) == 1, "one extraction for both tools"


def test_another_archive_of_the_same_version_is_another_package(tmp_path, fake_archive):
    other = make_archive(
        tmp_path / "other" / fake_archive.name, "seldon-core-9.9.9", {**FILES, "LICENSE": "x"}
    )
    one, two = (
        seldon_tool("seldon-operator", release_for(fake_archive)),
        seldon_tool("seldon-operator", release_for(other)),
    )
    layout = toolchain.Layout(tmp_path / "tools")
    assert one.version == two.version and layout.pkg_dir(one) != layout.pkg_dir(two)


def test_without_the_source_source_the_fix_says_how_to_enable_it(tmp_path, progress):
    chain = Toolchain(tmp_path / "tools", sources=["release", "go"], progress=progress)
    with pytest.raises(ToolError, match="add `source` to FADI_TOOLS_SOURCES"):
        chain.install_one(toolchain.registry()["seldon-executor"])


def test_a_version_read_from_the_build_info_matches_the_unprefixed_pin(tmp_path):
    binary = tmp_path / "seldon-operator"
    binary.write_bytes(
        b"\x00go1.26\x00path\t"
        + OPERATOR.encode()
        + b"\nmod\t"
        + OPERATOR.encode()
        + b"\tv1.17.1\n\t=>\t../src/x\t(devel)\n"
    )
    reported = probe.buildinfo_version(binary, OPERATOR)
    assert reported == "v1.17.1" and toolchain.registry()["seldon-operator"].matches(reported)
    assert not toolchain.registry()["seldon-operator"].matches("v1.15.0")
