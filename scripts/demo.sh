#!/usr/bin/env bash
# `make demo`: the whole story on one machine, no cluster needed.
#   tools -> Kubernetes (local, or yours via KUBECONFIG) -> FADI with Seldon -> the user guide's
#   SeldonDeployment (generated, validated, applied, listed) -> the example model packaged,
#   served with the real Seldon wrapper, and asked for a prediction.
# Each step says what it runs. The local cluster is left running at the end (`make cluster-down`).
#
# Environment: KUBECONFIG (use that cluster instead of the local one), DEMO_NAMESPACE (models),
# DEMO_RELEASE_NAMESPACE (fadi), DEMO_KEEP_SERVING=1 (leave the model server running).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="$ROOT/.venv/bin/python"
FS=("$PY" -m fadi_seldon)
export PATH="$ROOT/.tools/bin:$ROOT/.venv/bin:$PATH"
export HELM_PLUGINS="${HELM_PLUGINS:-$ROOT/.tools/helm/plugins}" HELM_CACHE_HOME="${HELM_CACHE_HOME:-$ROOT/.tools/helm/cache}"
export HELM_CONFIG_HOME="${HELM_CONFIG_HOME:-$ROOT/.tools/helm/config}" HELM_DATA_HOME="${HELM_DATA_HOME:-$ROOT/.tools/helm/data}"
RELEASE=fadi
RELEASE_NS="${DEMO_RELEASE_NAMESPACE:-fadi}"
MODELS_NS="${DEMO_NAMESPACE:-models}"
WORK="$ROOT/build/demo"
T0=$(date +%s)
n=0
step() { n=$((n + 1)); printf '\n\033[1m[demo %d] %s\033[0m\n' "$n" "$*"; }
run() { printf '  $ %s\n' "$*"; "$@"; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }
SERVE_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ] && [ -z "${DEMO_KEEP_SERVING:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVE_PID" 2>/dev/null || kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
step "tools: helm and (unless KUBECONFIG points at a cluster) the local control plane, pinned in versions.env"
LOCAL=1
if [ -n "${KUBECONFIG:-}" ]; then LOCAL=0; fi
if [ "$LOCAL" = 1 ]; then run "${FS[@]}" tools install helm cluster; else run "${FS[@]}" tools install helm kubernetes; fi

# ---------------------------------------------------------------------------------------------
if [ "$LOCAL" = 1 ]; then
  step "Kubernetes: etcd, kube-apiserver, controller-manager, scheduler and kwok on 127.0.0.1 (no containers)"
  run "${FS[@]}" cluster up
  eval "$("${FS[@]}" cluster env)"
  echo "  KUBECONFIG=$KUBECONFIG"
else
  step "Kubernetes: using your cluster (KUBECONFIG=$KUBECONFIG)"
  run kubectl cluster-info
fi

# ---------------------------------------------------------------------------------------------
step "FADI with the Seldon Core operator: helm upgrade --install with seldon-core-operator.enabled=true"
run helm dependency build fadi >/dev/null
SETS=(--set seldon-core-operator.enabled=true --set seldon-core-operator.usageMetrics.enabled=false)
if [ "$LOCAL" = 1 ]; then
  # kwok simulates pods: the operator "pod" runs no code, so the webhook stays off until the next
  # step starts the real operator on this host and points the webhook at it.
  SETS+=(--set seldon-core-operator.webhook.enabled=false)
  echo "  (local cluster: webhook off until the real operator runs as a host process, next step)"
fi
run helm upgrade --install "$RELEASE" ./fadi --namespace "$RELEASE_NS" --create-namespace "${SETS[@]}" --wait --timeout 300s
run kubectl get crd seldondeployments.machinelearning.seldon.io
run kubectl -n "$RELEASE_NS" get deployments,services
if [ "$LOCAL" = 1 ]; then
  step "the real Seldon operator as a host process, configured by the installed chart (docs/real-operator.md)"
  run "${FS[@]}" tools install operator
  run "${FS[@]}" cluster operator start --release "$RELEASE" --namespace "$RELEASE_NS" --chart ./fadi \
    --set seldon-core-operator.webhook.enabled=true
fi

# ---------------------------------------------------------------------------------------------
step "the user guide's SeldonDeployment: generate it with fadi-seldon new"
mkdir -p "$WORK"
run "${FS[@]}" new seldon-model --api-version v1alpha2 --spec-name test-deployment --predictor example \
  --image seldonio/mock_classifier:1.0 --model-name classifier --endpoint-type REST --replicas 1 \
  --output-file "$WORK/seldon-model.yaml" --force
sed 's/^/    /' "$WORK/seldon-model.yaml"

step "validate it offline (CRD schema, webhook rules, later failures)"
run "${FS[@]}" validate "$WORK/seldon-model.yaml"

step "apply it and list the SeldonDeployments, as in the user guide"
kubectl get namespace "$MODELS_NS" >/dev/null 2>&1 || run kubectl create namespace "$MODELS_NS"
run kubectl apply -n "$MODELS_NS" -f "$WORK/seldon-model.yaml"
if [ "$LOCAL" = 1 ]; then
  run kubectl wait -n "$MODELS_NS" seldondeployment/seldon-model --for=jsonpath='{.status.state}'=Available --timeout=180s
  run kubectl get -n "$MODELS_NS" deployments,services -l seldon-deployment-id=seldon-model
fi
run kubectl get seldondeployment -n "$MODELS_NS"

# ---------------------------------------------------------------------------------------------
step "package the example model (a Docker build context and its SeldonDeployment)"
rm -rf "$WORK/iris-model"
cp -r examples/iris-model "$WORK/iris-model"
rm -f "$WORK/iris-model/Dockerfile" "$WORK/iris-model/deployment.yaml" "$WORK/iris-model/requirements-seldon.txt"
run "${FS[@]}" package "$WORK/iris-model" --image fadi/iris-model:0.1.0
run "${FS[@]}" validate "$WORK/iris-model/deployment.yaml"

step "serve it locally with the real Seldon Python wrapper (first run creates .venv-serve)"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPORT=$(free_port)
LOG="$WORK/serve.log"
echo "  $ fadi-seldon serve $WORK/iris-model --port $PORT --no-grpc   (log: $LOG)"
setsid "${FS[@]}" serve "$WORK/iris-model" --port "$PORT" --no-grpc --metrics-port "$MPORT" >"$LOG" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 600); do
  if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)))" 2>/dev/null; then break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "  the model server exited:"; tail -20 "$LOG"; exit 1; }
  sleep 0.5
done

step "a real prediction"
run "${FS[@]}" predict "http://127.0.0.1:$PORT" --ndarray '[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]' \
  --names sepal_length,sepal_width,petal_length,petal_width

# ---------------------------------------------------------------------------------------------
printf '\n\033[1m[demo] done in %s\033[0m\n' "$(elapsed)"
cat <<EOT
  cluster      $( [ "$LOCAL" = 1 ] && echo "local control plane (fadi-seldon cluster status)" || echo "$KUBECONFIG" )
  FADI         release $RELEASE in namespace $RELEASE_NS, seldon-core-operator.enabled=true
  model        SeldonDeployment seldon-model in namespace $MODELS_NS ($WORK/seldon-model.yaml)
  packaged     $WORK/iris-model (Dockerfile, deployment.yaml)

Continue with:
  export KUBECONFIG=${KUBECONFIG}
  kubectl get seldondeployment -n $MODELS_NS
  fadi-seldon new --help                    # routers, combiners, canaries, shadows
  fadi-seldon doctor                        # check the Seldon installation
  kubectl delete seldondeployment seldon-model -n $MODELS_NS
EOT
if [ "$LOCAL" = 1 ]; then
  echo "The local cluster keeps running; stop it with:  make cluster-down"
fi
