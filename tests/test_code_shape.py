"""The package's shape, measured the way a reviewer measures it (docs/architecture.md).

- no function longer than 60 lines, data tables aside (a module-level literal is not a function);
- no function rated worse than C by radon (cyclomatic complexity at most 20);
- imports flow one way: cli -> domain -> runtime; `dev/` (build-time generators) is imported by
  nothing that ships, and importing `fadi_seldon.cli` loads no localkube, tools or model module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "fadi_seldon"
MAX_LINES = 60
MAX_COMPLEXITY = 20
# which layer may import which: a domain package never imports the CLI; runtime imports no domain
LAYERS = {
    "cli": 0,
    "dev": 0,
    "doctor": 1,
    "images": 1,
    "localkube": 1,
    "model": 1,
    "sdep": 1,
    "tools": 1,
    "values": 1,
    "runtime": 2,
}


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


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fadi_seldon" and parts[1] in LAYERS else None


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def test_imports_flow_one_way():
    wrong = []
    for path in _modules():
        own = path.relative_to(PKG).parts[0]
        if own not in LAYERS:
            continue
        for module, names in _imports(path):
            targets = [f"{module}.{n}" for n in names] if module == "fadi_seldon" else [module]
            for target in targets:
                other = _layer(target)
                if other is None or other == own:
                    continue
                if other == "dev" or LAYERS[other] < LAYERS[own] or (LAYERS[other] == LAYERS[own] == 0):
                    wrong.append(f"{path.relative_to(PKG)} imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_importing_the_cli_loads_no_heavy_domain_module():
    code = (
        "import sys, fadi_seldon.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[1:2] in (['localkube'], ['tools'], ['model'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
