"""Keys and certificates for the local control plane, made with the `openssl` CLI.

Why openssl and not a Python library: it is present on every Debian/Ubuntu/macOS machine and
keeps `cryptography` out of the dependencies. Generated once per state folder and reused by
later `cluster up` runs, so kubeconfigs and issued service-account tokens stay valid.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from fadi_seldon.runtime import commands
from fadi_seldon.runtime.files import PRIVATE, atomic_write

# Names the API server is reached by: from the host, and from (simulated) pods.
API_SERVER_SANS = (
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "IP:127.0.0.1",
    "IP:10.96.0.1",
    "IP:10.88.0.1",  # the real node's bridge: the address pods reach the API server on (node.GATEWAY)
)
VALID_DAYS = 3650


class PKIError(RuntimeError):
    pass


@dataclass(frozen=True)
class PKI:
    dir: Path

    ca_cert = property(lambda self: self.dir / "ca.crt")
    ca_key = property(lambda self: self.dir / "ca.key")
    server_cert = property(lambda self: self.dir / "apiserver.crt")
    server_key = property(lambda self: self.dir / "apiserver.key")
    sa_key = property(lambda self: self.dir / "sa.key")
    sa_pub = property(lambda self: self.dir / "sa.pub")
    tokens_csv = property(lambda self: self.dir / "tokens.csv")

    def files(self) -> list[Path]:
        return [self.ca_cert, self.ca_key, self.server_cert, self.server_key, self.sa_key, self.sa_pub]

    def complete(self) -> bool:
        return all(p.is_file() and p.stat().st_size > 0 for p in self.files())

    def ensure(self, openssl: str | None = None) -> bool:
        """Create whatever is missing; returns True when something was generated."""
        if self.complete():
            return False
        exe = openssl or shutil.which("openssl")
        if not exe:
            raise PKIError("`openssl` is not installed: install it (Debian/Ubuntu: apt-get install openssl)")
        self.dir.mkdir(parents=True, exist_ok=True)
        run = _runner(exe, self.dir)
        # private keys go to stdout and are written owner-only from creation (never world-readable)
        atomic_write(self.ca_key, run("genrsa", "2048"), PRIVATE)
        atomic_write(
            self.ca_cert,
            run("req", "-x509", "-new", "-key", self.ca_key, "-days", str(VALID_DAYS), "-subj", "/CN=fadi-seldon-local-ca"),
        )  # fmt: skip
        atomic_write(self.server_key, run("genrsa", "2048"), PRIVATE)
        ext = atomic_write(
            self.dir / "apiserver.ext",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(API_SERVER_SANS)}\n",
        )
        csr = atomic_write(
            self.dir / "apiserver.csr",
            run("req", "-new", "-key", self.server_key, "-subj", "/CN=kube-apiserver"),
        )
        atomic_write(
            self.server_cert,
            run("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-CAcreateserial",
                "-days", str(VALID_DAYS), "-extfile", ext),
        )  # fmt: skip
        csr.unlink(missing_ok=True)
        # service-account token signing key pair (kube-apiserver signs, everyone verifies)
        atomic_write(self.sa_key, run("genrsa", "2048"), PRIVATE)
        atomic_write(self.sa_pub, run("rsa", "-in", self.sa_key, "-pubout"))
        return True


def issue(
    pki: PKI, name: str, subject: str, *, usage: str, sans: tuple[str, ...] = (), openssl: str | None = None
) -> tuple[Path, Path]:
    """A key and a certificate signed by the local CA, kept as `<name>.crt`/`<name>.key` and reused.

    `subject` is the openssl form (`/O=system:nodes/CN=system:node:x`): Kubernetes reads the user
    from CN and the groups from O. `usage` is `clientAuth` or `serverAuth`."""
    cert, key = pki.dir / f"{name}.crt", pki.dir / f"{name}.key"
    if cert.is_file() and key.is_file() and cert.stat().st_size and key.stat().st_size:
        return cert, key
    exe = openssl or shutil.which("openssl")
    if not exe:
        raise PKIError("`openssl` is not installed: install it (Debian/Ubuntu: apt-get install openssl)")
    run = _runner(exe, pki.dir)
    atomic_write(key, run("genrsa", "2048"), PRIVATE)
    lines = [
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if sans:
        lines.append(f"subjectAltName={','.join(sans)}")
    ext = atomic_write(pki.dir / f"{name}.ext", "\n".join(lines) + "\n")
    csr = atomic_write(pki.dir / f"{name}.csr", run("req", "-new", "-key", key, "-subj", subject))
    atomic_write(
        cert,
        run("x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key, "-CAcreateserial",
            "-days", str(VALID_DAYS), "-extfile", ext),
    )  # fmt: skip
    csr.unlink(missing_ok=True)
    return cert, key


def _runner(exe: str, cwd: Path):
    def run(*args) -> bytes:
        """openssl's output (the PEM it writes to stdout: ASCII text)."""
        argv = [exe, *map(str, args)]
        proc = commands.run(argv, cwd=cwd)
        if not proc.ok or not proc.stdout:
            raise PKIError(f"`{' '.join(argv)}` failed ({proc.code}): {proc.stderr.strip()[-800:]}")
        return proc.stdout.encode()

    return run


# Static bearer tokens: user, uid, groups. The controller-manager and scheduler use the user
# names that Kubernetes' bootstrap RBAC already grants their permissions to.
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok-controller", ("system:masters",)),
    # the real node's companions: kube-proxy's user is bound to system:node-proxier by Kubernetes'
    # bootstrap RBAC; CoreDNS gets its read-only ClusterRole from node.py at start-up
    "kube-proxy": ("system:kube-proxy", ()),
    "coredns": ("fadi-seldon:coredns", ()),
}


def ensure_tokens(path: Path) -> dict[str, str]:
    """Read or create the API server's static token file; returns identity -> token."""
    tokens = read_tokens(path)
    if set(tokens) >= set(IDENTITIES):
        return tokens
    tokens = {name: secrets.token_hex(24) for name in IDENTITIES}
    lines = []
    for name, (user, groups) in IDENTITIES.items():
        group_field = f',"{",".join(groups)}"' if groups else ""
        lines.append(f"{tokens[name]},{user},{name}-uid{group_field}")
    atomic_write(path, "\n".join(lines) + "\n", PRIVATE)
    return tokens


def read_tokens(path: Path) -> dict[str, str]:
    """identity (the uid prefix) -> token, from a token file written by `ensure_tokens`."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[2].endswith("-uid"):
            out[parts[2][: -len("-uid")]] = parts[0]
    return out
