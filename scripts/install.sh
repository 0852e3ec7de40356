#!/usr/bin/env bash
# Install or upgrade FADI into the CURRENT kube context: `make install [VALUES=my-values.yaml]`.
#   helm upgrade --install $RELEASE ./fadi -n $NAMESPACE --create-namespace -f $VALUES $HELM_ARGS
# Refuses, before touching anything, when no context is selected (so nothing lands on a cluster
# by accident) or when the values file fails the chart's schema (checked offline, with lines).
# Environment: VALUES (fadi/values.yaml), RELEASE (fadi), NAMESPACE (fadi), HELM_ARGS (e.g. --wait).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_DIR="${TOOLS_DIR:-${FADI_TOOLS_DIR:-$PWD/.tools}}"
export PATH="$TOOLS_DIR/bin:$PWD/.venv/bin:$PATH"
VALUES="${VALUES:-fadi/values.yaml}"
RELEASE="${RELEASE:-fadi}"
NAMESPACE="${NAMESPACE:-fadi}"
HELM_ARGS="${HELM_ARGS:-}"

die() { echo "[install] error: $*" >&2; exit 1; }

[ -f "$VALUES" ] || die "values file $VALUES not found (VALUES=path/to/values.yaml)"
command -v helm >/dev/null || die "helm is not installed: run \`make tools TOOLS=chart\`"

# The context helm will use: kubectl's answer when kubectl is there, else read the kubeconfig
# (KUBECONFIG's files in order, or ~/.kube/config) the way kubectl would.
current_context() {
  if command -v kubectl >/dev/null; then
    kubectl config current-context 2>/dev/null
    return
  fi
  python - <<'PY'
import os, sys, yaml
paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or [os.path.expanduser("~/.kube/config")]
for path in paths:
    try:
        with open(path, encoding="utf-8") as fh:
            ctx = (yaml.safe_load(fh) or {}).get("current-context")
    except (OSError, yaml.YAMLError):
        continue
    if ctx:
        print(ctx)
        sys.exit(0)
sys.exit(1)
PY
}

if ! context=$(current_context) || [ -z "$context" ]; then
  die "no current kube context: nothing was installed.
  Point KUBECONFIG at a cluster (e.g. \`eval \"\$(fadi-seldon cluster env)\"\` after \`make cluster-up\`)
  or select one with \`kubectl config use-context NAME\`, then run \`make install\` again."
fi
echo "[install] kube context: $context${KUBECONFIG:+ (KUBECONFIG=$KUBECONFIG)}"

echo "[install] fadi-seldon values check --file $VALUES"
fadi-seldon values check --file "$VALUES" >/tmp/fadi-install-check.$$ || {
  grep -v ': warning:' /tmp/fadi-install-check.$$ >&2; rm -f /tmp/fadi-install-check.$$
  die "$VALUES does not match the chart's schema: fix the lines above (nothing was installed)"
}
rm -f /tmp/fadi-install-check.$$

helm dependency build fadi >/dev/null
echo "[install] helm upgrade --install $RELEASE ./fadi -n $NAMESPACE --create-namespace -f $VALUES $HELM_ARGS"
# shellcheck disable=SC2086  # HELM_ARGS is a list of flags
helm upgrade --install "$RELEASE" ./fadi --namespace "$NAMESPACE" --create-namespace -f "$VALUES" $HELM_ARGS
