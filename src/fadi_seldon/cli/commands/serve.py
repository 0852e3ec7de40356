"""`fadi-seldon serve DIR`: run a model folder with the real Seldon wrapper on 127.0.0.1 until stopped.

A long-running command: it has no result to print, only progress on stderr (`[serve] ...`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.commands.package import add_model_arguments, check_folder
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = exit_codes.notes(
    {
        ExitCode.OK: "stopped by Ctrl-C or SIGTERM, every wrapper process ended",
        ExitCode.FAILED: "a problem with the model, a busy port, or the wrapper failed or exited",
        ExitCode.USAGE: "DIR is not a folder, or a bad --workers/--parameters",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fadi_seldon.model import serving

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
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


def _usable(args: argparse.Namespace) -> bool:
    if not check_folder(Path(args.folder)):
        return False
    if args.workers < 1:
        output.error(f"--workers must be 1 or more, got {args.workers}")
        return False
    if args.parameters:
        try:
            if not isinstance(json.loads(args.parameters), list):
                raise ValueError("not a list")
        except ValueError as err:
            output.error(f"--parameters must be a JSON list of {{name, value, type}}: {err}")
            return False
    return True


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.model import packaging, serving

    if not _usable(args):
        return ExitCode.USAGE
    folder = Path(args.folder)
    try:
        cls = packaging.find_class(folder, args.class_ref, args.service_type)
    except packaging.PackageError as err:
        output.error(str(err))
        return ExitCode.FAILED
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
    return _serve(args, cls, wrapper)


def _serve(args: argparse.Namespace, cls, wrapper) -> int:
    """Start the wrapper, wait until it exits or a signal comes; always stop every process it started."""
    from fadi_seldon.model import serving

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
        return ExitCode.FAILED
    except serving.ServeError as err:
        output.error(str(err))
        return ExitCode.FAILED
    except (KeyboardInterrupt, _Stop):
        _message("stopping")
        return ExitCode.OK
    finally:
        if wrapper.process is not None:
            wrapper.stop()
            _message("stopped (all wrapper processes ended)")
        signal.signal(signal.SIGTERM, previous)
