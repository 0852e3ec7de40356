"""An S3 object store in the local cluster, standing in for FADI's MinIO: `rclone serve s3` in a pod.

Prepackaged servers fetch their model with the storage initializer (rclone) from `modelUri:
s3://bucket/path`; FADI ships MinIO for that. MinIO's server is AGPL and not built here; rclone, which
the initializer image already carries (MIT, the same binary), speaks the S3 protocol as a server since
1.65 (`rclone serve s3`, path-style, AWS signature v4 with the keys given by `--auth-key`). Buckets are
the top folders of its data folder, an emptyDir: what is stored lives as long as the pod.

Two Secrets, as on a FADI cluster: the store's own keys (what MinIO's root user is), and the model
Secret in upstream's documented rclone form (`RCLONE_CONFIG_S3_*`), which a SeldonDeployment names in
`envSecretRefName` so that the initializer's `s3` remote points at the store.
"""

from __future__ import annotations

import base64
import secrets

from fadi_seldon.runtime import versions

NAME = "object-store"
PORT = 9000
DATA = "/data"
# the same image as the storage initializer: rclone on a Debian base, user 8888
IMAGE_REPOSITORY = "docker.io/seldonio/rclone-storage-initializer"
KEYS_SECRET_SUFFIX = "-keys"
ACCESS_KEY_VAR, SECRET_KEY_VAR = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"


def image() -> str:
    return f"{IMAGE_REPOSITORY}:{versions.get('SELDON_CORE_VERSION')}"


def endpoint(namespace: str, name: str = NAME) -> str:
    """The store's URL inside the cluster (what a pod's rclone calls)."""
    return f"http://{name}.{namespace}.svc.cluster.local:{PORT}"


def model_secret(secret_name: str, namespace: str, url: str, access_key: str, secret_key: str) -> dict:
    """The Secret a SeldonDeployment names in envSecretRefName: rclone's `s3` remote by variables,
    in the form `fadi-seldon upload --print-secret` writes."""
    from fadi_seldon.model import upload

    keys = upload.Credentials(access_key, secret_key, source="the local object store")
    return upload.secret_manifest(secret_name, namespace, url, keys, None)


def _container(name: str) -> dict:
    env = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": name + KEYS_SECRET_SUFFIX, "key": var}}}
        for var in (ACCESS_KEY_VAR, SECRET_KEY_VAR)
    ]
    return {
        "name": "rclone",
        "image": image(),
        "imagePullPolicy": "IfNotPresent",
        "command": ["rclone"],
        "args": [
            "serve",
            "s3",
            DATA,
            "--addr",
            f":{PORT}",
            "--auth-key",
            f"$({ACCESS_KEY_VAR}),$({SECRET_KEY_VAR})",
        ],
        "env": env,
        "ports": [{"name": "s3", "containerPort": PORT}],
        "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 1},
        "volumeMounts": [{"name": "data", "mountPath": DATA}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def manifests(namespace: str, access_key: str, secret_key: str, name: str = NAME) -> list[dict]:
    """The store: its keys' Secret, a one-replica Deployment and its Service on port 9000."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "fadi-seldon"}
    keys = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name + KEYS_SECRET_SUFFIX, "namespace": namespace, "labels": labels},
        "type": "Opaque",
        "stringData": {ACCESS_KEY_VAR: access_key, SECRET_KEY_VAR: secret_key},
    }
    pod_spec = {"containers": [_container(name)], "volumes": [{"name": "data", "emptyDir": {}}]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "s3", "port": PORT, "targetPort": PORT}]},
    }
    return [keys, deployment, service]


def stored_keys(kubectl, namespace: str, name: str = NAME) -> tuple[str, str] | None:
    """The keys of a store already deployed (its keys Secret), so that a second `up` keeps them."""
    secret = kubectl.get("secret", name + KEYS_SECRET_SUFFIX, "-n", namespace)
    data = (secret or {}).get("data") or {}
    try:
        return tuple(base64.b64decode(data[var]).decode() for var in (ACCESS_KEY_VAR, SECRET_KEY_VAR))  # type: ignore[return-value]
    except (KeyError, ValueError):
        return None


def deploy(kubectl, namespace: str, secret_name: str) -> dict:
    """The store, its keys (kept if it already runs, else new random ones) and the model Secret, all in
    `namespace`, applied; returns what a user needs: the keys, the in-cluster endpoint, the Secret."""
    keys = stored_keys(kubectl, namespace) or ("fadi" + secrets.token_hex(8), secrets.token_hex(20))
    url = endpoint(namespace)
    kubectl.apply([namespace_manifest(namespace), *manifests(namespace, *keys)])
    kubectl.apply([model_secret(secret_name, namespace, url, *keys)])
    return {"namespace": namespace, "service": NAME, "endpoint_in_cluster": url, "secret": secret_name,
            "access_key_id": keys[0], "secret_access_key": keys[1]}  # fmt: skip


def namespace_manifest(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
