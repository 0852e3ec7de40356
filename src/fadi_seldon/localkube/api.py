"""A very small Kubernetes REST client (urllib), enough for bootstrapping and health checks.

`cluster up` must not depend on kubectl being built or on a Python Kubernetes client; it
only needs GET/POST/PATCH with a bearer token and the local CA.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path


class APIError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Client:
    def __init__(self, server: str, token: str, ca_cert: Path | None = None, timeout: float = 5.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        if ca_cert is not None:
            self.ctx = ssl.create_default_context(cafile=str(ca_cert))
        else:
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def request(
        self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"
    ):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ctx) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                text = json.loads(text).get("message", text)
            raise APIError(err.code, text) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def get(self, path: str):
        return self.request("GET", path)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
            return True
        except APIError as err:
            if err.status == 404:
                return False
            raise

    def delete(self, path: str) -> bool:
        """DELETE; True when something was deleted, False when it did not exist."""
        try:
            self.request("DELETE", path)
            return True
        except APIError as err:
            if err.status == 404:
                return False
            raise

    def create(self, path: str, body: dict) -> dict | None:
        """POST; an object that already exists is fine (idempotent bootstrap)."""
        try:
            return self.request("POST", path, body)
        except APIError as err:
            if err.status == 409:
                return None
            raise


def probe(
    url: str, *, token: str | None = None, ca_cert: Path | None = None, timeout: float = 2.0
) -> tuple[bool, str]:
    """GET a health endpoint: (healthy, short detail). TLS is verified only when a CA is given."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    ctx = None
    if url.startswith("https"):
        if ca_cert is not None:
            ctx = ssl.create_default_context(cafile=str(ca_cert))
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            body = resp.read(2000).decode(errors="replace").strip()
            return resp.status == 200, body[:200]
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}: {err.read(300).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as err:
        return False, str(getattr(err, "reason", err))
