#!/usr/bin/env bash
# Run pytest from the project's virtual environment. Exit 5 (no test collected) is a failure,
# never a silent pass: a suite that collects nothing has lost its tests.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/.venv/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests for: $*  (exit 5 is treated as a failure)" >&2
fi
exit "$rc"
