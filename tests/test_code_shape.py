"""The package's shape, measured the way a reviewer measures it (docs/architecture.md).

- no function longer than 60 lines, data tables aside (a module-level literal is not a function);
- no function rated worse than C by radon (cyclomatic complexity at most 20);
- no import cycle between modules (every import counts: at module level, under TYPE_CHECKING, or
  inside a function);
- imports flow one way, in the order of the packages docs/architecture.md declares (runtime first,
  cli and dev last): a package imports only packages declared before it, so `dev/` (build-time
  generators) is imported by nothing that ships; importing `fadi_seldon.cli` loads no localkube,
  tools or model module;
- `src/` holds what users run and the build-time generators, no test machinery: every module is
  reached from a command of the CLI or from `make generate` (fadi_seldon.dev.generate);
- external commands run through one runner (runtime/commands.py): no other module imports
  `subprocess`, but the process starter and the model server's (which start what outlives the call).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "fadi_seldon"
MAX_LINES = 60
MAX_COMPLEXITY = 20
ARCHITECTURE = PKG.parents[1] / "docs" / "architecture.md"
# the declared order, one line of the architecture page: `runtime < tools < ... < cli < dev`
ORDER_LINE = re.compile(r"^\s*(\w+(?:\s*<\s*\w+)+)\s*$", re.M)


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _is_data_table(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose body is one `return` of a literal or a constructor call (after its docstring):
    a data table written as a function, which the length rule leaves alone."""
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) else fn.body
    return (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(
            body[0].value, ast.List | ast.Tuple | ast.Dict | ast.Call | ast.Constant | ast.JoinedStr
        )
    )


def test_no_function_is_longer_than_sixty_lines():
    long = []
    for path in _modules():
        for fn in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            length = fn.end_lineno - fn.lineno + 1
            if length > MAX_LINES and not _is_data_table(fn):
                long.append(f"{path.relative_to(PKG)}:{fn.lineno} {fn.name} ({length} lines)")
    assert long == [], "\n".join(long)


def test_no_function_is_rated_worse_than_c_by_radon():
    from radon import complexity as radon

    bad = []
    for path in _modules():
        for block in radon.cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > MAX_COMPLEXITY:
                bad.append(
                    f"{path.relative_to(PKG)}:{block.lineno} {block.name} (complexity {block.complexity})"
                )
    assert bad == [], "\n".join(bad)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports, wherever the import statement is. `from P import X`
    is an import of the module P.X when X is a module, else of P; an import of a submodule is not
    counted as one of its package's __init__ (which Python runs first, but which may import nothing)."""
    paths = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                targets |= {
                    f"{module}.{a.name}" if f"{module}.{a.name}" in paths else module for a in node.names
                }
        graph[name] = set()
        for target in targets:
            while target and target not in paths:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycle_between_modules():
    cycles = [sorted(c) for c in _cycles(_import_graph())]
    assert cycles == [], "import cycles (move the shared piece to the module it belongs to):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def declared_order() -> list[str]:
    """The order of the packages, from the one line of docs/architecture.md that states it."""
    lines = ORDER_LINE.findall(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(lines) == 1, f"{ARCHITECTURE.name} must state the packages' order on one line, found {lines}"
    return [name.strip() for name in lines[0].split("<")]


def test_every_package_has_its_place_in_the_declared_order():
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
    assert sorted(declared_order()) == sorted(packages)


def _package(module: str) -> str | None:
    """The package `fadi_seldon.PKG[...]` belongs to; None for the root's own `__init__` and `__main__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PKG / parts[1]).is_dir() else None


def test_packages_import_only_packages_declared_before_them():
    order = {name: rank for rank, name in enumerate(declared_order())}
    wrong = []
    for module, targets in sorted(_import_graph().items()):
        own = _package(module)
        for target in sorted(targets):
            other = _package(target)
            if other is None and target != "fadi_seldon":  # the root holds only __version__
                wrong.append(f"{module} imports {target}")
            elif own and other and order[other] > order[own]:
                wrong.append(f"{module} ({own}) imports {target} ({other}, declared after {own})")
    assert wrong == [], "\n".join(wrong)


def _module_map() -> dict[str, str]:
    """`package/module.py` (or a folder, or a glob) -> its row, from the module map's table."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text[text.index("## Module map") :].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    package = ""
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] == "package" or set("".join(cells)) <= set("-"):
            continue
        package = cells[0].strip("`") or package
        for name in re.findall(r"`([\w./*]+)`", cells[1]):
            rows[f"{package}/{name}"] = line
    return rows


def test_the_module_map_names_every_module_and_only_modules_that_exist():
    rows = _module_map()
    files = {p.relative_to(PKG).as_posix() for p in _modules()}
    covered: set[str] = set()
    for name in rows:
        found = (
            {f for f in files if f.startswith(name)}
            if name.endswith("/")
            else {p.relative_to(PKG).as_posix() for p in PKG.glob(name)}
        )
        assert found, f"docs/architecture.md names {name}, which does not exist"
        covered |= found
    # a package's __init__ may go unnamed (most only say what the package is); the root's two as well
    missing = sorted(f for f in files - covered if not f.endswith("__init__.py") and "/" in f)
    assert missing == [], "modules missing from the module map of docs/architecture.md: " + ", ".join(missing)


def test_importing_the_cli_loads_no_heavy_domain_module():
    code = (
        "import sys, fadi_seldon.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[1:2] in (['localkube'], ['tools'], ['model'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _reached(graph: dict[str, set[str]], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in graph]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module] - seen)
    return seen


def test_every_module_is_reached_from_a_command_or_make_generate():
    """What only tests or benches import (a mutant generator, a search, a proxy for many requests)
    belongs in tests/machinery, not in the package users install."""
    from fadi_seldon.cli import COMMANDS

    graph = _import_graph()
    roots = {"fadi_seldon.__main__", "fadi_seldon.cli", "fadi_seldon.dev.generate"}
    reached = _reached(graph, roots | {module for module, _ in COMMANDS.values()})
    # a package's __init__ without code (at most a docstring) is never imported by name (its submodules are)
    empty = {m for m in graph if _holds_no_code(m)}
    unreached = sorted(set(graph) - reached - empty)
    assert unreached == [], "modules no command and no generator imports (move them to tests/machinery): " + (
        ", ".join(unreached)
    )


def _holds_no_code(module: str) -> bool:
    path = PKG.parent.joinpath(*module.split("."))
    source = (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text(encoding="utf-8")
    return all(isinstance(node, ast.Expr) for node in ast.parse(source).body)


def test_reach_follows_imports():
    assert _reached({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}, {"a"}) == {"a", "b", "c"}


# the runner itself; starting what outlives the call: the control plane's processes, the model server
SUBPROCESS_ALLOWED = {"runtime/commands.py", "runtime/processes.py", "model/serving.py"}


def test_only_the_runtime_runner_runs_commands():
    users = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "subprocess" for name in names):
                users.add(path.relative_to(PKG).as_posix())
    assert users - SUBPROCESS_ALLOWED == set(), "run commands with fadi_seldon.runtime.commands instead"
