"""A local Kubernetes control plane without containers.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler binaries run on
127.0.0.1; kwok plays the kubelet so that nodes and pods become Ready without a container
runtime. This is enough for Helm installs with `--wait`, Pod Security admission, RBAC checks,
CRD validation and `helm test` hooks, which is what the charts need to be tested for real.

Modules: `layout` (where state lives), `pki` (keys and certificates via the openssl CLI),
`kubeconfig`, `stages` (kwok's node and pod lifecycle), `nodes` (the simulated nodes: count,
capacity, add/resize/remove), `api` (a tiny REST client), `components`
(one object per control-plane process: flags, probe, start timeout, log), `controlplane`
(up/down/status), `operator` (the real Seldon operator as a host process). Process handling,
waits, atomic writes and the state folder come from `fadi_seldon.runtime` (processes, polling,
files, statedir).
"""

from fadi_seldon.localkube.controlplane import ClusterError, ControlPlane  # noqa: F401
