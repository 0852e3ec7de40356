"""OCI image archives written without a container engine, and read back.

An image archive is a tar of an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`)
that `ctr images import` loads; the manifest's entry in `index.json` names the image through the
`io.containerd.image.name` annotation. Layers are kept uncompressed: the archive is imported on the
same machine, where gzip would cost more time than the bytes it saves, and an uncompressed layer's
digest is its diff id. Every tar written here is deterministic (sorted entries, explicit owners and
modes, mtime 0 unless the caller keeps the files' own), so the same inputs give the same digests and
a rebuilt image is recognised as unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import stat
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fadi_seldon.runtime.files import atomic_stream

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20
# uname() machine -> OCI architecture
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class OCIError(ValueError):
    """An archive that cannot be written or read; the message says which and why."""


def host_architecture() -> str:
    """The OCI name of this machine's architecture: the images built here run here."""
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine)


def normalize_ref(ref: str) -> str:
    """The fully qualified name containerd and the kubelet use for `ref` (docker.io/library/x:latest).

    A pod's `image: iris:0.1.0` is looked up as `docker.io/library/iris:0.1.0`; an image imported
    under the short name would never be found, so archives carry the normalized name.
    """
    name, digest = (ref.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name.split("/", 1)[1]
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def ref_tag(ref: str) -> str:
    """The tag of a normalized reference (`latest` when it has only a digest)."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@dataclass
class _Entry:
    kind: bytes  # tarfile.REGTYPE, DIRTYPE, SYMTYPE or LNKTYPE
    mode: int
    uid: int
    gid: int
    mtime: int = 0
    data: bytes | None = None
    source: Path | None = None
    linkname: str = ""


def _clean(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OCIError(f"{path!r}: a layer path may not contain '..'")
    return "/".join(parts)


@dataclass
class Layer:
    """The content of one layer, collected in memory (file data stays on disk until written)."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    comment: str = ""

    def add_dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self.entries[_clean(path)] = _Entry(tarfile.DIRTYPE, mode, uid, gid)

    def add_file(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.entries[_clean(path)] = _Entry(tarfile.REGTYPE, mode, uid, gid, data=data)

    def add_symlink(self, path: str, target: str, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.entries[_clean(path)] = _Entry(tarfile.SYMTYPE, 0o777, uid, gid, linkname=target)

    def _parents(self, path: str) -> None:
        """Parent folders not named yet are added as root 0755, as `mkdir -p` in a build would."""
        parts = _clean(path).split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), _Entry(tarfile.DIRTYPE, 0o755, 0, 0))

    def add_tree(
        self,
        source: Path,
        dest: str,
        *,
        owner: tuple[int, int] | None = None,
        mode: Callable[[int], int] | None = None,
        keep_mtime: bool = False,
        include: Callable[[str], bool] | None = None,
        prune: bool = True,
    ) -> list[str]:
        """Add a folder's content under `dest`; returns what was skipped (device nodes, fifos, sockets).

        `owner` replaces the files' own uid and gid, `mode` maps each permission set, `include`
        sees paths relative to `source` ('a/b.py') and says what to keep; an excluded folder is not
        entered unless `prune` is false (an include rule may take back a file inside). Hard links inside the tree
        stay links, so a rootfs is not stored twice.
        """
        skipped: list[str] = []
        links: dict[tuple[int, int], list[str]] = {}
        base = _clean(dest)
        for root, dirs, files in os.walk(source):
            dirs.sort()
            rel_root = os.path.relpath(root, source)
            for name in sorted(dirs) + sorted(files):
                rel = name if rel_root == "." else f"{rel_root}/{name}"
                if include is not None and not include(rel):
                    if prune and name in dirs:
                        dirs.remove(name)
                    continue
                target = f"{base}/{rel}" if base else rel
                entry = self._entry_for(Path(root, name), owner, mode, keep_mtime, links, target)
                if entry is None:
                    skipped.append(rel)
                else:
                    self.entries[_clean(target)] = entry
        self._link(links)
        return skipped

    def _link(self, links: dict[tuple[int, int], list[str]]) -> None:
        """Files sharing an inode: the first in tar order holds the data, the others link to it."""
        for names in links.values():
            first, *others = sorted(names)
            for name in others:
                entry = self.entries[name]
                entry.kind, entry.linkname, entry.source = tarfile.LNKTYPE, first, None

    @staticmethod
    def _entry_for(path, owner, mode, keep_mtime, links, target) -> _Entry | None:
        st = path.lstat()
        uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
        perms = stat.S_IMODE(st.st_mode)
        perms = mode(perms) if mode is not None else perms
        mtime = int(st.st_mtime) if keep_mtime else 0
        if stat.S_ISLNK(st.st_mode):
            return _Entry(tarfile.SYMTYPE, 0o777, uid, gid, mtime, linkname=os.readlink(path))
        if stat.S_ISDIR(st.st_mode):
            return _Entry(tarfile.DIRTYPE, perms, uid, gid, mtime)
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_nlink > 1:
            links.setdefault((st.st_dev, st.st_ino), []).append(_clean(target))
        return _Entry(tarfile.REGTYPE, perms, uid, gid, mtime, source=path)

    def write(self, path: Path) -> Blob:
        """Write the layer tar atomically; entries sorted so parents come first and order is fixed."""
        with (
            atomic_stream(path) as handle,
            tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in sorted(self.entries):
                _add_entry(tar, name, self.entries[name])
        return Blob.of(path, self.comment)


def _add_entry(tar: tarfile.TarFile, name: str, entry: _Entry) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = entry.kind, entry.mode, entry.uid, entry.gid
    info.mtime, info.uname, info.gname, info.linkname = entry.mtime, "", "", entry.linkname
    if entry.kind != tarfile.REGTYPE:
        tar.addfile(info)
    elif entry.data is not None:
        info.size = len(entry.data)
        tar.addfile(info, io.BytesIO(entry.data))
    else:
        assert entry.source is not None, f"{name}: a file entry holds its data or names its source"
        with open(entry.source, "rb") as handle:
            info.size = os.fstat(handle.fileno()).st_size
            tar.addfile(info, handle)


@dataclass(frozen=True)
class Blob:
    """A layer tar on disk with its digest (also its diff id: layers are uncompressed)."""

    path: Path
    digest: str
    size: int
    comment: str = ""

    @classmethod
    def of(cls, path: Path, comment: str = "") -> Blob:
        return cls(path, sha256_file(path), path.stat().st_size, comment)

    def to_json(self) -> dict:
        return {"digest": self.digest, "size": self.size, "comment": self.comment}

    @classmethod
    def from_json(cls, path: Path, data: dict) -> Blob:
        """A cached layer, trusted by size (hashing a large layer on every build is the slow part)."""
        if path.stat().st_size != data["size"]:
            raise OCIError(f"{path}: size differs from its record; delete it to rebuild")
        return cls(path, data["digest"], data["size"], data.get("comment", ""))


@dataclass
class ImageConfig:
    """The runtime part of an image config, as a Dockerfile's USER, ENV, WORKDIR... would set it."""

    user: str = ""
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # "9000/tcp"
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict = {"User": self.user, "Env": list(self.env), "WorkingDir": self.working_dir}
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        return {k: v for k, v in out.items() if v not in ("", [])}


def merge_env(base: Iterable[str], extra: Iterable[str]) -> list[str]:
    """Docker's ENV rule: a later KEY=VALUE replaces the same key in place, new keys go last."""
    merged: dict[str, str] = {}
    for item in [*base, *extra]:
        key, _, value = item.partition("=")
        merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


def _json_bytes(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _descriptor(media_type: str, data: bytes) -> dict:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


@dataclass(frozen=True)
class Written:
    """An archive written by write_archive: where, under which name, and its manifest's digest."""

    path: Path
    ref: str
    digest: str
    size: int


def image_documents(layers: list[Blob], config: ImageConfig, ref: str) -> tuple[bytes, bytes, bytes]:
    """The image config, the manifest and the index of one image, as canonical JSON."""
    arch = host_architecture()
    history = [{"created": "1970-01-01T00:00:00Z", "created_by": blob.comment or "layer"} for blob in layers]
    config_json = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config.to_json(),
        "rootfs": {"type": "layers", "diff_ids": [blob.digest for blob in layers]},
        "history": history,
    }
    config_bytes = _json_bytes(config_json)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": _descriptor(CONFIG_MEDIA_TYPE, config_bytes),
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": b.digest, "size": b.size} for b in layers],
    }
    manifest_bytes = _json_bytes(manifest)
    entry = _descriptor(MANIFEST_MEDIA_TYPE, manifest_bytes)
    entry["annotations"] = {NAME_ANNOTATION: ref, REF_ANNOTATION: ref_tag(ref)}
    entry["platform"] = {"architecture": arch, "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [entry]}
    return config_bytes, manifest_bytes, _json_bytes(index)


def write_archive(path: Path, layers: list[Blob], config: ImageConfig, ref: str) -> Written:
    """Write the image as an OCI layout tar at `path` (atomically), named by the normalized `ref`."""
    full_ref = normalize_ref(ref)
    config_bytes, manifest_bytes, index_bytes = image_documents(layers, config, full_ref)
    small = {
        "oci-layout": _json_bytes({"imageLayoutVersion": "1.0.0"}),
        "index.json": index_bytes,
        _blob_name(config_bytes): config_bytes,
        _blob_name(manifest_bytes): manifest_bytes,
    }
    unique = {blob.digest: blob for blob in layers}
    with (
        atomic_stream(path) as handle,
        tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in ("blobs", "blobs/sha256"):
            _add_entry(tar, name, _Entry(tarfile.DIRTYPE, 0o755, 0, 0))
        for name in sorted(small):
            _add_entry(tar, name, _Entry(tarfile.REGTYPE, 0o644, 0, 0, data=small[name]))
        for digest in sorted(unique):
            blob = unique[digest]
            entry = _Entry(tarfile.REGTYPE, 0o644, 0, 0, source=blob.path)
            _add_entry(tar, "blobs/sha256/" + digest.split(":", 1)[1], entry)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    return Written(path, full_ref, manifest_digest, path.stat().st_size)


def _blob_name(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise OCIError(f"{tar.name!s}: no {name} in the archive; is it an OCI image archive?")
    return handle.read()


def read_index(archive: Path) -> dict:
    """The archive's index.json; OCIError (plain words, no tarfile internals) when it is no archive."""
    try:
        with tarfile.open(archive) as tar:
            index = json.loads(_member(tar, "index.json"))
    except tarfile.TarError:
        raise OCIError(
            f"{archive}: not a tar archive; an OCI image archive (.oci.tar) was expected"
        ) from None
    except ValueError as err:  # a broken index.json (OCIError from _member passes through as such)
        if isinstance(err, OCIError):
            raise
        raise OCIError(f"{archive}: its index.json is not valid JSON") from None
    if not isinstance(index, dict) or not index.get("manifests"):
        raise OCIError(f"{archive}: its index.json lists no image")
    return index


def read_manifest(archive: Path) -> dict:
    """The manifest of the archive's (first) image."""
    with tarfile.open(archive) as tar:
        entry = json.loads(_member(tar, "index.json"))["manifests"][0]
        return json.loads(_member(tar, "blobs/sha256/" + entry["digest"].split(":", 1)[1]))


def read_config(archive: Path) -> dict:
    """The image config (architecture, os, config, rootfs, history) of the archive's image."""
    with tarfile.open(archive) as tar:
        entry = json.loads(_member(tar, "index.json"))["manifests"][0]
        manifest = json.loads(_member(tar, "blobs/sha256/" + entry["digest"].split(":", 1)[1]))
        return json.loads(_member(tar, "blobs/sha256/" + manifest["config"]["digest"].split(":", 1)[1]))


def image_name(archive: Path) -> str:
    """The name containerd gives the imported image (`io.containerd.image.name`)."""
    entry = read_index(archive)["manifests"][0]
    try:
        return entry["annotations"][NAME_ANNOTATION]
    except KeyError:
        raise OCIError(f"{archive}: the manifest has no {NAME_ANNOTATION} annotation") from None
