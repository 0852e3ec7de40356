"""What the tests and benches run against the real stack, and nothing a user runs: seeded mutants of
real SeldonDeployments (`mutants`), the crash and wedge search (`crash_search`), `validate` against
admission and the operator (`differential`), `kubectl proxy` for many quick API requests (`proxy`).

It lives in the tests' tree, not in the package: `src/` holds what users run and the build-time
generators. Tests import it as `machinery` (pytest puts `tests/` on the path, as for `cluster`);
benches and scripts add `tests/` to `sys.path` first.
"""
