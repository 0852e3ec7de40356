"""The data scientist's path: apply the user guide's SeldonDeployment and the example graphs,
list them with `kubectl get seldondeployment`, delete one by name.

The webhook is off here: no operator process runs on the local cluster to answer it.
"""

from __future__ import annotations

import pytest
import yaml

from cluster.kube import CRD
from conftest import ROOT

NS = "models"
GUIDE_EXAMPLE = ROOT / "examples" / "seldon-model.yaml"


def _sdeps(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "SeldonDeployment"]


# examples/graphs holds the generated SeldonDeployments and the graph specs they come from
GRAPHS = [p for p in sorted((ROOT / "examples" / "graphs").glob("*.yaml")) if _sdeps(p)]


@pytest.fixture(scope="module")
def applied(kube, webhook_off):
    kube.namespace(NS)
    assert GUIDE_EXAMPLE.is_file(), f"{GUIDE_EXAMPLE} is missing"
    assert GRAPHS, "no example graphs in examples/graphs/"
    names = []
    for path in [GUIDE_EXAMPLE, *GRAPHS]:
        kube.kubectl("apply", "-n", NS, "-f", str(path))
        names += [d["metadata"]["name"] for d in _sdeps(path)]
    yield names
    kube.kubectl("delete", "seldondeployments", "--all", "-n", NS, "--wait=false", check=False)


def test_the_user_guide_example_is_v1alpha2_and_stored_as_v1(kube, applied):
    guide = _sdeps(GUIDE_EXAMPLE)[0]
    assert guide["apiVersion"] == "machinelearning.seldon.io/v1alpha2"
    stored = kube.get("seldondeployments.v1.machinelearning.seldon.io", guide["metadata"]["name"], "-n", NS)
    assert stored["apiVersion"] == "machinelearning.seldon.io/v1"
    assert stored["spec"]["predictors"][0]["graph"]["name"] == guide["spec"]["predictors"][0]["graph"]["name"]


def test_kubectl_get_lists_every_deployment_with_the_printer_columns(kube, applied):
    crd = kube.get("crd", CRD)
    storage = next(v for v in crd["spec"]["versions"] if v["storage"])
    columns = storage.get("additionalPrinterColumns") or []
    assert columns, "the CRD declares no printer columns"
    out = kube.kubectl("get", "seldondeployment", "-n", NS).stdout.splitlines()
    header = out[0].split()
    wide = kube.kubectl("get", "seldondeployment", "-n", NS, "-o", "wide").stdout.splitlines()[0].split()
    for col in columns:
        # priority 0 columns are in the default listing, the others only in `-o wide`
        shown = wide if col.get("priority", 0) else header
        assert col["name"].upper() in shown, f"printer column {col['name']} missing from {shown}"
    listed = {line.split()[0] for line in out[1:]}
    assert listed == set(applied)
    short = kube.kubectl("get", "sdep", "-n", NS, "-o", "name").stdout.split()
    assert len(short) == len(applied)


def test_delete_by_name_as_in_the_user_guide(kube, applied):
    name = _sdeps(GUIDE_EXAMPLE)[0]["metadata"]["name"]
    assert name == "seldon-model"
    kube.kubectl("delete", "seldondeployment", name, "-n", NS)
    assert kube.get("seldondeployment", name, "-n", NS) is None
    remaining = kube.kubectl("get", "seldondeployment", "-n", NS, "-o", "name").stdout.split()
    assert len(remaining) == len(applied) - 1
