"""Where the local cluster keeps its state: one folder, removed by `cluster down`.

The folder is `.cluster/` in the checkout (git-ignored) or `FADI_CLUSTER_DIR`. Every path a
component uses lives below it, which is also how leftover processes of a crashed run are
recognised: their command lines name this folder. The real node's sockets are the one exception
(`socket_dir`: a short folder of their own, named after this one), written here because both the
node's components and the images loaded into its containerd (node_images.py) need them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fadi_seldon.runtime import versions

ENV_DIR = "FADI_CLUSTER_DIR"


def default_state_dir() -> Path:
    return versions.local_dir(
        ENV_DIR, ".cluster", versions.user_dir("XDG_STATE_HOME", ".local/state", "cluster")
    )


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def kubeconfig(self) -> Path:
        """The user-facing admin kubeconfig (what `cluster env` exports)."""
        return self.root / "kubeconfig"

    def component_kubeconfig(self, component: str) -> Path:
        return self.config / f"{component}.kubeconfig"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def holds_state(self) -> bool:
        """Whether the folder is one this package wrote (a cluster's, or a companion's such as the
        host operator's): `down` removes only such a folder, never one named by mistake."""
        markers = (self.state_file, self.lock_file, self.pki, self.kubeconfig)
        return any(path.exists() for path in markers) or any(self.root.glob("*/state.json"))

    def ensure(self) -> None:
        for d in (self.root, self.pki, self.logs, self.config):
            d.mkdir(parents=True, exist_ok=True)
        # the private keys and tokens below must not be readable by other users
        self.root.chmod(0o700)


# A unix socket's path must fit in 104 bytes (containerd's check; the kernel's limit is 108): a state
# folder deep in a checkout would not leave room, so the node's sockets live in a short folder of
# their own, named after the state folder, and `down` removes it.
SOCKETS_ROOT = Path("/run/fadi-seldon")


def socket_dir(layout: Layout) -> Path:
    return SOCKETS_ROOT / hashlib.sha256(str(layout.root.resolve()).encode()).hexdigest()[:12]


def containerd_socket(layout: Layout) -> Path:
    return socket_dir(layout) / "containerd.sock"
