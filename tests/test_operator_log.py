"""Reading an operator's log: the panic, where it happened, and the object that caused it."""

from __future__ import annotations

from fadi_seldon.doctor import operator_log

# how the 1.17.1 operator `tools install` builds (-trimpath) names its files in a trace; a build
# from the module cache would say /root/go/pkg/mod/github.com/seldonio/seldon-core/operator@v1.17.1
MODULE = "github.com/seldonio/seldon-core/operator@v1.17.1"
MODULE_CACHE = "/root/go/pkg/mod/github.com/seldonio/seldon-core/operator@v1.17.1"
JSON_LOG = f"""{{"level":"info","ts":1.7,"logger":"controllers.SeldonDeployment","msg":"Reconcile called","SeldonDeployment":"models/good"}}
{{"level":"error","ts":1.8,"logger":"controller.seldondeployment","msg":"Reconciler error","name":"slow","namespace":"models","error":"Deployment.apps \\"x\\" is invalid"}}
{{"level":"error","ts":1.9,"logger":"controllers.SeldonDeployment","msg":"Failed to create","SeldonDeployment":"models/other","error":"boom"}}
{{"level":"info","ts":2.0,"logger":"controllers.SeldonDeployment","msg":"Reconcile called","SeldonDeployment":"models/empty"}}
panic: runtime error: index out of range [0] with length 0

goroutine 412 [running]:
github.com/seldonio/seldon-core/operator/controllers.createAddressableResource(0xc000, {{0xc001, 0x7}}, {{0xc002, 0x1, 0x1}})
\t{MODULE}/controllers/seldondeployment_controller.go:160 +0x1f45
github.com/seldonio/seldon-core/operator/controllers.(*SeldonDeploymentReconciler).createComponents(0xc000)
\t{MODULE}/controllers/seldondeployment_controller.go:666 +0x2a
sigs.k8s.io/controller-runtime/pkg/internal/controller.(*Controller).Reconcile(0xc0)
\tsigs.k8s.io/controller-runtime@v0.11.2/pkg/internal/controller/controller.go:114 +0x26f
"""

CONSOLE_LOG = """2026-11-30T10:00:00.000Z\tINFO\tcontrollers.SeldonDeployment\tReconcile called\t{"SeldonDeployment": "team-a/iris"}
panic: assignment to entry in nil map

goroutine 7 [running]:
github.com/seldonio/seldon-core/operator/apis/machinelearning.seldon.io/v1.(*SeldonDeploymentSpec).DefaultSeldonDeployment(0x1)
\t/src/operator/apis/machinelearning.seldon.io/v1/defaults.go:42 +0x10
"""


def test_the_culprit_is_the_last_object_reconciled_before_the_panic():
    crash = operator_log.parse_crash(JSON_LOG)
    assert crash is not None
    assert crash.message == "panic: runtime error: index out of range [0] with length 0"
    assert crash.location == "controllers/seldondeployment_controller.go:160"
    assert crash.function == "controllers.createAddressableResource"
    assert (crash.namespace, crash.name, crash.culprit) == ("models", "empty", "models/empty")
    assert crash.to_json()["culprit"] == "models/empty"


def test_a_module_cache_path_gives_the_same_location():
    crash = operator_log.parse_crash(JSON_LOG.replace(f"\t{MODULE}/", f"\t{MODULE_CACHE}/"))
    assert crash is not None and crash.location == "controllers/seldondeployment_controller.go:160"


def test_console_encoding_and_a_source_checkout_path():
    crash = operator_log.parse_crash(CONSOLE_LOG)
    assert crash is not None and crash.culprit == "team-a/iris"
    assert crash.location == "apis/machinelearning.seldon.io/v1/defaults.go:42"
    assert crash.function.endswith("DefaultSeldonDeployment")


def test_no_panic_no_crash_and_the_latest_panic_wins():
    assert operator_log.parse_crash(JSON_LOG.split("panic:")[0]) is None
    later = CONSOLE_LOG + JSON_LOG
    crash = operator_log.parse_crash(later)
    assert crash is not None and crash.culprit == "models/empty"


def test_a_panic_before_any_reconcile_has_no_culprit():
    crash = operator_log.parse_crash("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:1\n")
    assert crash is not None and crash.culprit == "" and crash.location == ""


def test_last_errors_per_object_from_both_error_shapes():
    errors = operator_log.last_errors(JSON_LOG + JSON_LOG.replace('"boom"', '"later"'))
    assert errors["models/slow"].startswith('Reconciler error: Deployment.apps "x" is invalid')
    assert errors["models/other"] == "Failed to create: later"
    assert "models/good" not in errors
