"""`kubectl proxy` on a free loopback port: plain-HTTP access to the API for many quick requests.

Whatever authentication the kubeconfig uses (token, client certificate, exec plugin), kubectl does
it once; callers then send hundreds of requests without a process per request (the crash search,
the conformance comparison).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request


class ProxyError(RuntimeError):
    pass


class Proxy:
    def __init__(self, kubectl: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [kubectl, "proxy", "--port=0", "--address=127.0.0.1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "127.0.0.1:" not in line:
            self.close()
            raise ProxyError(f"kubectl proxy did not start: {line}")
        self.url = "http://" + line.strip().rsplit(" ", 1)[-1]

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, dict]:
        """(HTTP status, decoded JSON answer); an answer that is not JSON becomes {"message": text}."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:  # e.g. "404 page not found" for a version the CRD does not serve
            return status, {"message": raw.decode(errors="replace").strip()}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
