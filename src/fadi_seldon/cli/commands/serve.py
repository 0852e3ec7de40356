"""`fadi-seldon serve DIR`: run a model folder with the real Seldon wrapper on 127.0.0.1 until stopped."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from fadi_seldon.cli.commands.package import add_model_arguments
from fadi_seldon.model import packaging, serving

HELP = "run a model locally with the real Seldon Python wrapper"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, "folder holding the model's Python module")
    parser.add_argument("--host", default=serving.DEFAULT_HOST, help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=serving.WRAPPER_HTTP_PORT, help="REST port (9000)")
    parser.add_argument("--grpc-port", type=int, default=serving.WRAPPER_GRPC_PORT, help="gRPC port (5000)")
    parser.add_argument(
        "--metrics-port", type=int, default=serving.WRAPPER_METRICS_PORT, help="metrics port (6000)"
    )
    parser.add_argument("--workers", type=int, default=1, help="REST worker processes (1)")
    parser.add_argument("--no-grpc", action="store_true", help="no gRPC server (2 processes fewer)")
    parser.add_argument(
        "--parameters", metavar="JSON", help='constructor parameters: [{"name","value","type"}]'
    )
    parser.add_argument("--venv", type=Path, help="wrapper venv (default: FADI_SERVE_VENV or .venv-serve)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of creating the wrapper venv")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness (60)")


def _message(text: str) -> None:
    print(f"[serve] {text}", file=sys.stderr, flush=True)


class _Stop(Exception):
    """Raised from the SIGTERM handler to leave the wait loop through the cleanup path."""


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder}: not a directory", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"error: --workers must be 1 or more, got {args.workers}", file=sys.stderr)
        return 2
    if args.parameters:
        try:
            if not isinstance(json.loads(args.parameters), list):
                raise ValueError("not a list")
        except ValueError as err:
            print(f"error: --parameters must be a JSON list of {{name, value, type}}: {err}", file=sys.stderr)
            return 2
    try:
        cls = packaging.find_class(folder, args.class_ref, args.service_type)
    except packaging.PackageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    wrapper = serving.Wrapper(
        folder=folder.resolve(),
        interface_name=cls.interface_name,
        service_type=packaging.SERVICE_TYPES[args.service_type][1],
        host=args.host,
        http_port=args.port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        workers=args.workers,
        grpc_workers=0 if args.no_grpc else 1,
        parameters=args.parameters,
    )

    def on_term(signum, frame):
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        python = serving.ensure_venv(
            args.venv or serving.default_venv(), install=not args.no_install, progress=_message
        )
        wrapper.check_ports()
        _message(f"starting {cls.interface_name} ({args.service_type}) from {cls.where()}")
        wrapper.start(python)
        took = wrapper.wait_ready(args.timeout)
        grpc = "off" if args.no_grpc else f"{args.host}:{args.grpc_port}"
        _message(
            f"ready in {took:.2f} s: POST {wrapper.url}/api/v1.0/predictions  (gRPC {grpc}, "
            f"metrics http://{args.host}:{args.metrics_port}/metrics). Ctrl-C stops."
        )
        _message(f"try: fadi-seldon predict {wrapper.url} --ndarray '[[1, 2, 3, 4]]'")
        while wrapper.process is not None and wrapper.process.poll() is None:
            time.sleep(0.2)
        code = wrapper.process.returncode if wrapper.process else 0
        _message(f"the wrapper exited with code {code}")
        return 1
    except serving.ServeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        _message("stopping")
        return 0
    finally:
        if wrapper.process is not None:
            wrapper.stop()
            _message("stopped (all wrapper processes ended)")
        signal.signal(signal.SIGTERM, previous)
