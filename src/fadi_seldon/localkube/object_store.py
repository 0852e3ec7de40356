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
    """The Secret a SeldonDeployment names in envSecretRefName: rclone's `s3` remote by variables."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {
            "RCLONE_CONFIG_S3_TYPE": "s3",
            "RCLONE_CONFIG_S3_PROVIDER": "Other",
            "RCLONE_CONFIG_S3_ENV_AUTH": "false",
            "RCLONE_CONFIG_S3_ACCESS_KEY_ID": access_key,
            "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": secret_key,
            "RCLONE_CONFIG_S3_ENDPOINT": url,
        },
    }


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
