"""The local Kubernetes: a real control plane, a real node where the host can run one, else kwok's.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler binaries run on this machine.
Where the host can run one (root, the node's tools and system packages, br_netfilter and overlay:
node_lifecycle.host_problems), a real node runs pods in containers: containerd, kubelet,
kube-proxy and CoreDNS on a bridge of its own, with images loaded from OCI archives (no registry);
elsewhere kwok plays the kubelet, so that nodes and pods become Ready without a container runtime.
Either is enough for Helm installs with `--wait`, Pod Security admission, RBAC checks, CRD
validation and `helm test` hooks; on a real node the models' containers run too, and answer
requests.

Modules: `layout` (where state lives, the node's sockets), `pki` (keys and certificates via the
openssl CLI), `kubeconfig`, `stages` (kwok's node and pod lifecycle), `nodes` (the simulated nodes:
count, capacity, add/resize/remove), `api` (a tiny REST client), `components` (one object per
control-plane process: flags, probe, start timeout, log), `node` (the real node's components),
`node_lifecycle` and `host` (preparing the host and putting it back), `node_images` (images on the
node), `controlplane` (up/down/status), `services` (reaching a Service), `operator`
(the real Seldon operator as a host process). Process handling, waits, atomic writes and the state
folder come from `fadi_seldon.runtime` (processes, polling, files, statedir).
"""

from fadi_seldon.localkube.controlplane import ClusterError, ControlPlane  # noqa: F401
