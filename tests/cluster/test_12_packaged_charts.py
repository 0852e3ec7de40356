"""The archives `make package` writes install on a cluster: `helm install` of the signed, verified
operator and umbrella archives (what users get from the chart repository or the OCI registry)."""

from __future__ import annotations

from cluster.kube import Kube
from test_release import chart_version, packaged  # noqa: F401  (the fixture: scripts/package-charts.sh)


def _install(kube: Kube, release: str, archive, *sets: str) -> None:
    namespace = kube.namespace(release)
    argv = ["install", release, str(archive), "-n", namespace, "--verify", "--keyring"]
    argv += [str(archive.parent / "throwaway-pubring.gpg"), "--wait", "--timeout", "180s"]
    for item in sets:
        argv += ["--set", item]
    try:
        proc = kube.helm(*argv, check=False)
        assert proc.returncode == 0, proc.stderr
        status = kube.helm("status", release, "-n", namespace, "-o", "json", check=False)
        assert '"status":"deployed"' in status.stdout.replace(" ", ""), status.stdout
    finally:
        kube.helm("uninstall", release, "-n", namespace, "--wait", check=False)


def test_the_packaged_operator_chart_installs_verified(kube, umbrella, packaged):  # noqa: F811
    archive = packaged / f"seldon-core-operator-{chart_version('seldon-core-operator')}.tgz"
    # FADI's release owns the CRD in this cluster; a second operator release leaves it alone
    _install(kube, "pkg-operator", archive, "crd.create=false", "webhook.enabled=false")


def test_the_packaged_umbrella_chart_installs_verified(kube, packaged):  # noqa: F811
    archive = packaged / f"fadi-{chart_version('fadi')}.tgz"
    _install(kube, "pkg-fadi", archive)
