"""The Makefile's entry points, read from `make -n` (nothing is run): each target installs only the
tools it uses, and `make test` runs every step once, scripts included, with no step of today lost."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from fadi_seldon import tools as toolchain

ROOT = Path(__file__).resolve().parents[1]
INSTALL = re.compile(r"-m fadi_seldon tools install\b(.*)$")
SCRIPT = re.compile(r"(?<![\w/.-])(scripts/[\w.-]+\.(?:sh|py))\b")
# shell structure, not a step: loop heads and block ends
STRUCTURE = re.compile(r"^(done|fi|else|then|esac|\}|(for|while|until) .*; do)$")


def make_n(*goals: str) -> list[str]:
    """The commands `make -n GOALS` would run, one per line."""
    # a make calling pytest (make test-unit) must not leak its flags (-n, jobserver) into this make
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *goals],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"make -n {' '.join(goals)} failed:\n{proc.stdout}\n{proc.stderr}"
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def install_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if INSTALL.search(line)]


def installed_tools(lines: list[str]) -> set[str]:
    """The tools the `fadi-seldon tools install` commands among `lines` install (groups resolved)."""
    names: list[str] = []
    for line in install_lines(lines):
        args = shlex.split(INSTALL.search(line).group(1))
        assert args, f"`{line}` installs every tool: name what the target uses"
        names += args
    return {t.name for t in toolchain.select(names)} if names else set()


def group(*names: str) -> set[str]:
    return {t.name for t in toolchain.select(list(names))}


def script_commands(path: Path) -> list[str]:
    """The command lines of a shell script: comments, `echo` lines and loop heads or block ends left out."""
    commands = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "echo ")) and not STRUCTURE.match(line):
            commands.append(line)
    return commands


def expand(lines: list[str], caller: str = "make") -> list[tuple[str, str]]:
    """(who runs it, command) for `lines` and, recursively, the commands of each script they run.

    A script run twice with different arguments (pytest.sh) gives two different callers; one run
    twice the same way gives the same (caller, command) pairs twice. A sourced script
    (`source scripts/charts.sh`) only defines variables: it runs no step and is not expanded.
    """
    out: list[tuple[str, str]] = []
    for line in lines:
        out.append((caller, line))
        if line.startswith(("source ", ". ")):
            continue
        for script in SCRIPT.findall(line):
            if script.endswith(".sh"):
                out += expand(script_commands(ROOT / script), f"{caller} > {line}")
    return out


# --------------------------------------------------------------------------- tools per target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("lint", {"helm", "helm4", "actionlint"}),
        ("lint-charts", {"helm", "helm4"}),
        ("lint-workflows", {"actionlint"}),
        ("package", {"helm"}),
        ("dist", {"helm"}),
        ("lint-python", set()),
        ("test-unit", group("chart")),
        ("test-chart", group("chart")),
        ("test-cluster", group("helm", "cluster", "operator", "node")),
        ("test", group("all")),
    ],
)
def test_each_target_installs_only_the_tools_it_uses(target, expected):
    lines = make_n(target)
    assert len(install_lines(lines)) <= 1, f"make {target} runs more than one install:\n" + "\n".join(lines)
    assert installed_tools(lines) == expected


def test_make_lint_builds_no_cluster_tool():
    lines = make_n("lint")
    assert installed_tools(lines).isdisjoint(group("cluster", "operator")), "\n".join(lines)
    assert not any("kubernetes" in line or "tools install all" in line for line in install_lines(lines))
    assert "scripts/lint-charts.sh" in lines
    assert any("ruff check" in line for line in lines) and any(
        "ruff format --check" in line for line in lines
    )
    assert any(line.endswith("-m mypy") for line in lines), "make lint type-checks src/ (pyproject.toml)"


# --------------------------------------------------------------------------- every step once


def test_make_test_runs_no_command_twice():
    steps = expand(make_n("test"))
    twice = sorted(f"{caller}: {step}" for (caller, step), n in Counter(steps).items() if n > 1)
    assert twice == [], "make test runs these more than once:\n" + "\n".join(twice)
    # a script run the same way from two places (make, and another script) is a step run twice
    scripts = Counter(
        step for _, step in steps if SCRIPT.search(step) and not step.startswith(("source ", ". "))
    )
    twice = sorted(f"{step} ({n} times)" for step, n in scripts.items() if n > 1)
    assert twice == [], "make test runs these scripts more than once:\n" + "\n".join(twice)


# one pattern per chart step that scripts run; each must run exactly once in `make test`
CHART_STEPS = {
    "helm lint --strict (v3 and v4)": re.compile(r'\bhelm"? lint --strict\b'),
    "helm dependency build": re.compile(r'\bhelm"? dependency build\b'),
    "helm unittest": re.compile(r"\bhelm unittest\b"),
    "ct lint": re.compile(r"\bct lint\b"),
    "validate the operator chart's manifests": re.compile(
        r"validate_rendered\.py charts/seldon-core-operator\b"
    ),
    "validate the umbrella's manifests": re.compile(r"validate_rendered\.py fadi\b"),
    "promtool check of the alert rules and dashboard": re.compile(r"\bpromtool_check\.py\b"),
    "actionlint of the workflows": re.compile(r"\bactionlint \.github/workflows\b"),
}


@pytest.mark.parametrize("step", list(CHART_STEPS))
def test_make_test_runs_each_chart_step_exactly_once(step):
    steps = expand(make_n("test"))
    found = [f"{caller}: {line}" for caller, line in steps if CHART_STEPS[step].search(line)]
    assert len(found) == 1, f"{step}: {len(found)} times in make test:\n" + "\n".join(found)


def test_make_test_keeps_every_suite_in_order():
    lines = make_n("test")
    wanted = [
        "ruff check",
        "ruff format --check",
        "fadi_seldon tools install",
        "scripts/lint-charts.sh",
        'scripts/pytest.sh -m "not cluster"',
        "scripts/test-chart.sh",
        'scripts/pytest.sh -m "cluster and not faults"',
    ]
    positions = []
    for needle in wanted:
        hits = [i for i, line in enumerate(lines) if needle in line]
        assert len(hits) == 1, f"{needle!r} runs {len(hits)} times in make test:\n" + "\n".join(lines)
        positions += hits
    assert positions == sorted(positions), "make test runs its parts out of order:\n" + "\n".join(lines)


def test_make_test_chart_alone_still_lints_the_charts():
    lines = make_n("test-chart")
    assert lines.index("scripts/lint-charts.sh") < lines.index("scripts/test-chart.sh")


# --------------------------------------------------------------------------- release targets


def help_text() -> dict[str, str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return dict(re.findall(r"^([a-zA-Z0-9_-]+):.*## (.*)$", text, re.M))


def test_release_targets_have_help_text():
    helps = help_text()
    for target in ("package", "dist", "lint-workflows"):
        assert helps.get(target), f"make {target} has no `## ...` help text"


def test_make_package_packages_and_signs_both_charts():
    lines = make_n("package")
    assert lines[-1] == "scripts/package-charts.sh"
    script = (ROOT / "scripts" / "package-charts.sh").read_text(encoding="utf-8")
    assert "helm package" in script and "--sign" in script and "helm verify" in script
    assert "helm dependency build" in script, "the umbrella is packaged with its operator dependency"
    assert "FADI_SIGNING_KEY" in script and "GNUPGHOME" in script


def test_make_dist_is_package_then_the_python_distributions():
    lines = make_n("dist")
    assert lines.index("scripts/package-charts.sh") < lines.index("scripts/dist.sh")
    assert len(install_lines(lines)) == 1


def test_make_lint_runs_actionlint_over_the_workflows():
    lines = make_n("lint")
    assert "actionlint .github/workflows/*.yaml" in lines
    assert not any("package-charts" in line or "dist.sh" in line for line in make_n("test"))


def test_make_test_compat_runs_the_cluster_suite_per_release_and_is_not_in_make_test():
    lines = make_n("test-compat", "COMPAT_KUBERNETES=v1.28.15 v1.36.3")
    assert lines[-1] == 'COMPAT_KUBERNETES="v1.28.15 v1.36.3" scripts/test-compat.sh'
    script = (ROOT / "scripts" / "test-compat.sh").read_text(encoding="utf-8")
    assert 'KUBERNETES_VERSION="$release"' in script and 'FADI_TOOLS_DIR="$dir"' in script
    assert "tools install kubernetes kubernetes-node" in script and '-m "cluster and not faults"' in script
    assert not any("test-compat" in line for line in make_n("test"))
    versions = make_n("test-compat")[-1]
    pinned = re.search(r"^KUBERNETES_VERSION=(\S+)$", (ROOT / "versions.env").read_text(), re.M).group(1)
    assert pinned in versions, "the pinned release is one of the two"
    workflow = (ROOT / ".github" / "workflows" / "ci.yaml").read_text(encoding="utf-8")
    assert "make test-compat COMPAT_KUBERNETES=${{ matrix.kubernetes }}" in workflow
    assert pinned in workflow
