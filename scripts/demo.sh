#!/usr/bin/env bash
# `make demo`: the whole story on one machine, no cluster needed.
#   tools -> Kubernetes (local with a real node where the host can run one, or yours via KUBECONFIG)
#   -> Seldon's images (operator, executor, mock_classifier) built here from Seldon's 1.17.1 source
#   release -> FADI with Seldon (its operator a real pod) -> the user guide's three steps verbatim
#   (its SeldonDeployment applied unmodified, listed Available, a prediction through the executor,
#   deleted) -> the example model packaged, its image built without Docker and loaded, deployed with
#   the executor, and asked for a prediction through its Service. Without a real node (not root, no
#   runc): simulated pods, the operator as a host process, and the model served by the wrapper on
#   this host. Each step prints its time.
# Each step says what it runs. The local cluster is left running at the end (`make cluster-down`).
#
# Environment: KUBECONFIG (use that cluster instead of the local one), DEMO_NAMESPACE (models),
# DEMO_RELEASE_NAMESPACE (fadi), DEMO_KEEP_SERVING=1 (leave the model server running).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=../versions.env
source versions.env
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
STEP_T0=$(date +%s.%N)
STEP_NAME=""
TIMES=()
step_done() {
  if [ -n "$STEP_NAME" ]; then
    local took; took=$(awk -v a="$STEP_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    printf '  (%ss)\n' "$took"
    TIMES+=("$(printf '%6ss  [demo %d] %s' "$took" "$n" "$STEP_NAME")")
  fi
}
step() {
  step_done
  n=$((n + 1)); STEP_NAME="$*"; STEP_T0=$(date +%s.%N)
  printf '\n\033[1m[demo %d] %s\033[0m\n' "$n" "$*"
}
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
step "tools: helm and (unless KUBECONFIG points at a cluster) the local cluster and its node, pinned in versions.env"
LOCAL=1
if [ -n "${KUBECONFIG:-}" ]; then LOCAL=0; fi
if [ "$LOCAL" = 1 ]; then run "${FS[@]}" tools install helm cluster node operator; else run "${FS[@]}" tools install helm kubernetes; fi

# ---------------------------------------------------------------------------------------------
REAL=0
if [ "$LOCAL" = 1 ]; then
  step "Kubernetes: etcd, kube-apiserver, controller-manager, scheduler, and a real node (containerd, kubelet, kube-proxy, CoreDNS) where this host can run one"
  run "${FS[@]}" cluster up
  eval "$("${FS[@]}" cluster env)"
  echo "  KUBECONFIG=$KUBECONFIG"
  if [ "$("${FS[@]}" cluster status -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["node_kind"])')" = real ]; then REAL=1; fi
  run kubectl get nodes -o wide
else
  step "Kubernetes: using your cluster (KUBECONFIG=$KUBECONFIG)"
  run kubectl cluster-info
fi

# ---------------------------------------------------------------------------------------------
SETS=(--set seldon-core-operator.enabled=true --set seldon-core-operator.usageMetrics.enabled=false)
if [ "$REAL" = 1 ]; then
  step "Seldon's images, built here from Seldon's ${SELDON_CORE_VERSION} source release (no registry, no Docker), loaded into the node"
  echo "  (the operator and executor binaries come from SELDON_CORE_SOURCE, built by make tools; the guide's"
  echo "   seldonio/mock_classifier:1.0 is packaged from its examples/models/mean_classifier;"
  LOADED="$WORK/loaded.json"
  mkdir -p "$WORK"
  echo "   the route controller's image is fadi-seldon itself, with its routes extra)"
  echo "  \$ fadi-seldon cluster load --operator --executor --mock-classifier --routes-controller -o json"
  "${FS[@]}" cluster load --operator --executor --mock-classifier --routes-controller -o json >"$LOADED"
  "$PY" -c 'import json,sys; [print("  loaded", ", ".join(i["images"])) for i in json.load(open(sys.argv[1]))]' "$LOADED"
  while read -r s; do SETS+=(--set "seldon-core-operator.$s"); done < <(
    "$PY" -c 'import json,sys; [print(s) for item in json.load(open(sys.argv[1])) for s in item["chart_sets"]]' "$LOADED")
  if kubectl get gateway fadi -n fadi-gateway >/dev/null 2>&1; then
    GATEWAY=1
    # FADI's ingress switch: its route controller gives every SeldonDeployment a URL on the gateway
    SETS+=(--set global.ingress.enabled=true)
  fi
fi
step "FADI with the Seldon Core operator: helm upgrade --install with seldon-core-operator.enabled=true"
run helm dependency build fadi >/dev/null
if [ "$LOCAL" = 1 ] && [ "$REAL" = 0 ]; then
  # kwok simulates pods: the operator "pod" runs no code, so the webhook stays off until the next
  # step starts the real operator on this host and points the webhook at it.
  SETS+=(--set seldon-core-operator.webhook.enabled=false)
  echo "  (simulated node: webhook off until the real operator runs as a host process, next step)"
fi
run helm upgrade --install "$RELEASE" ./fadi --namespace "$RELEASE_NS" --create-namespace "${SETS[@]}" --wait --timeout 300s
run kubectl get crd seldondeployments.machinelearning.seldon.io
run kubectl -n "$RELEASE_NS" get pods,services -o wide
if [ "$LOCAL" = 1 ] && [ "$REAL" = 0 ]; then
  step "the real Seldon operator as a host process, configured by the installed chart (docs/real-operator.md)"
  run "${FS[@]}" cluster operator start --release "$RELEASE" --namespace "$RELEASE_NS" --chart ./fadi \
    --set seldon-core-operator.webhook.enabled=true
fi
kubectl get namespace "$MODELS_NS" >/dev/null 2>&1 || kubectl create namespace "$MODELS_NS" >/dev/null

# ---------------------------------------------------------------------------------------------
GUIDE=examples/user-guide/seldon-model.yaml
mkdir -p "$WORK"
GUIDE_NS=$(kubectl config view --minify -o jsonpath='{..namespace}')
GUIDE_NS=${GUIDE_NS:-default}
step "the user guide's SeldonDeployment, as the guide prints it ($GUIDE), checked offline and by fadi-seldon new"
sed 's/^/    /' "$GUIDE"
run "${FS[@]}" validate "$GUIDE"
run "${FS[@]}" new seldon-model --api-version v1alpha2 --spec-name test-deployment --predictor example \
  --image seldonio/mock_classifier:1.0 --model-name classifier --endpoint-type REST --replicas 1 \
  --output-file "$WORK/seldon-model.yaml" --force
"$PY" -c 'import sys,yaml; a,b=(yaml.safe_load(open(f)) for f in sys.argv[1:]); sys.exit(0 if a == b else "fadi-seldon new differs from the guide")' "$GUIDE" "$WORK/seldon-model.yaml"
echo "  fadi-seldon new writes the same SeldonDeployment"

step "the guide's step 3, its commands as printed (the kubeconfig's namespace, $GUIDE_NS): kubectl apply -f"
run kubectl apply -f "$GUIDE"

# the packaged example model is built and applied while the guide's starts (its executor's readiness
# probe, set by the operator, waits 20 s before its first check), so both become Available together
step "package the example model (a Docker build context and its SeldonDeployment, with the Seldon executor)"
rm -rf "$WORK/iris-model"
cp -r examples/iris-model "$WORK/iris-model"
rm -f "$WORK/iris-model/Dockerfile" "$WORK/iris-model/deployment.yaml" "$WORK/iris-model/requirements-seldon.txt"
run "${FS[@]}" package "$WORK/iris-model" --image fadi/iris-model:0.1.0
run "${FS[@]}" validate "$WORK/iris-model/deployment.yaml"
if [ "$REAL" = 1 ]; then
  step "build its image without Docker (Debian base, the wrapper from PyPI, the model), load it into the node, apply it"
  run "${FS[@]}" package "$WORK/iris-model" --image fadi/iris-model:0.1.0 --build --load
  echo "  (its model container checked every second: $WORK/iris-model/deployment-demo.yaml)"
  "$PY" - "$WORK/iris-model/deployment.yaml" "$WORK/iris-model/deployment-demo.yaml" <<'PYEOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for predictor in doc["spec"]["predictors"]:
    for container in predictor["componentSpecs"][0]["spec"]["containers"]:
        container["readinessProbe"] = {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 1, "periodSeconds": 1}
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
PYEOF
  run kubectl apply -n "$MODELS_NS" -f "$WORK/iris-model/deployment-demo.yaml"
fi

step "the guide's model Available (the executor's readiness probe waits 20 s), then kubectl get seldondeployment"
run kubectl wait seldondeployment/seldon-model --for=jsonpath='{.status.state}'=Available --timeout=240s
run kubectl get seldondeployment
if [ "$REAL" = 1 ]; then
  run kubectl get pods -l seldon-deployment-id=seldon-model \
    -o custom-columns='POD:.metadata.name,CONTAINERS:.spec.containers[*].name,READY:.status.containerStatuses[*].ready,NODE:.spec.nodeName'

  step "a prediction from the guide's model, through the Seldon executor on its predictor's Service"
  URL=$("${FS[@]}" cluster service seldon-model-example -n "$GUIDE_NS" --wait 60)
  echo "  $URL  (the executor: seldon-container-engine)"
  run "${FS[@]}" predict "$URL" --wait 30 --ndarray '[[1.0, 2.0, 3.0, 4.0]]'

  step "the guide's last step: kubectl delete seldondeployment seldon-model, and its pods gone"
  run kubectl delete seldondeployment seldon-model
  for _ in $(seq 1 240); do  # the Deployment goes with its owner, then its pod
    [ -z "$(kubectl get pods -l seldon-deployment-id=seldon-model -o name)" ] && break
    sleep 0.5
  done
  [ -z "$(kubectl get pods -l seldon-deployment-id=seldon-model -o name)" ] || { echo "  its pods are still there"; exit 1; }
  echo "  its pods are gone"
  run kubectl get seldondeployment

  step "the packaged model, with the executor: Available, then a prediction through its Service"
  run kubectl wait -n "$MODELS_NS" seldondeployment/iris-model --for=jsonpath='{.status.state}'=Available --timeout=240s
  # the one wait before calling a ClusterIP: ready endpoints, and kube-proxy's rules on the node
  URL=$("${FS[@]}" cluster service iris-model-default -n "$MODELS_NS" --wait 60)
  echo "  $URL"
  run "${FS[@]}" predict "$URL" --wait 30 --ndarray '[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]' \
    --names sepal_length,sepal_width,petal_length,petal_width
  run kubectl logs -n "$MODELS_NS" deployment/iris-model-default-0-iris-model -c seldon-container-engine --tail 3
  if [ "${GATEWAY:-0}" = 1 ]; then
    step "the packaged model through its URL on the gateway (Traefik, Gateway API): the route controller's HTTPRoute"
    for _ in $(seq 1 120); do  # the controller writes the URL once the route is applied
      ROUTE_URL=$(kubectl get seldondeployment iris-model -n "$MODELS_NS" -o jsonpath='{.metadata.annotations.fadi\.cetic\.be/url}')
      [ -n "$ROUTE_URL" ] && break
      sleep 0.5
    done
    [ -n "$ROUTE_URL" ] || { echo "  no route URL on iris-model"; run kubectl logs -n "$RELEASE_NS" deployment/seldon-gateway-routes --tail 20; exit 1; }
    echo "  $ROUTE_URL"
    run kubectl get httproute -n "$MODELS_NS"
    run "${FS[@]}" predict iris-model -n "$MODELS_NS" --via route --wait 30 \
      --ndarray '[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]' --names sepal_length,sepal_width,petal_length,petal_width
  fi
else
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
fi

# ---------------------------------------------------------------------------------------------
step_done
printf '\n\033[1m[demo] done in %s\033[0m\n' "$(elapsed)"
printf '%s\n' "${TIMES[@]}"
cat <<EOT
  cluster      $( [ "$LOCAL" = 1 ] && echo "local control plane (fadi-seldon cluster status)" || echo "$KUBECONFIG" )
  FADI         release $RELEASE in namespace $RELEASE_NS, seldon-core-operator.enabled=true
  guide        SeldonDeployment seldon-model ($GUIDE) applied in namespace $GUIDE_NS$( [ "$REAL" = 1 ] && echo ", answered through the executor, deleted" )
  packaged     $WORK/iris-model (Dockerfile, deployment.yaml)$( [ "$REAL" = 1 ] && echo "; SeldonDeployment iris-model in $MODELS_NS, serving" )$( [ -n "${ROUTE_URL:-}" ] && echo "
  URL          $ROUTE_URL (fadi-seldon predict iris-model -n $MODELS_NS)" )

Continue with:
  export KUBECONFIG=${KUBECONFIG}
  kubectl get seldondeployment -n $MODELS_NS
  fadi-seldon new --help                    # routers, combiners, canaries, shadows
  fadi-seldon doctor                        # check the Seldon installation
  kubectl delete seldondeployment iris-model -n $MODELS_NS
EOT
if [ "$LOCAL" = 1 ]; then
  echo "The local cluster keeps running; stop it with:  make cluster-down"
fi
