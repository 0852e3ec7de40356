"""`fadi-seldon serve`: run a model on 127.0.0.1 until stopped, with the server its deployment uses.

- `serve DIR`: a model folder with the real Seldon wrapper (protocol seldon), or, when `package
  --runtime mlserver` wrote DIR, its custom runtime with MLServer (protocol v2);
- `serve --server SKLEARN_SERVER --model-uri PATH --protocol v2`: a prepackaged server's artifact with
  the MLServer runtime the chart's v2 image carries, and the model settings the operator gives it.

A long-running command: it has no result to print, only progress on stderr (`[serve] ...`). With
`--setup` it only prepares the server's environment and prints its python (`-o text|yaml|json`): the
interpreter that has the server's own libraries (scikit-learn for SKLEARN_SERVER), to train with.
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
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon serve examples/iris-model                      # the Seldon wrapper, REST on 9000
  fadi-seldon serve examples/iris-model --port 9100 --no-grpc
  fadi-seldon serve --setup --server SKLEARN_SERVER --protocol v2   # MLServer's venv; prints its python
  fadi-seldon serve --server SKLEARN_SERVER --model-uri DIR --protocol v2 --name iris
  fadi-seldon serve examples/sklearn-iris/runtime            # packaged with --runtime mlserver: v2

Both servers answer on 127.0.0.1:9000 by default, where `fadi-seldon predict` asks (either protocol).

""" + exit_codes.notes(
    {
        ExitCode.OK: "stopped by Ctrl-C or SIGTERM, every server process ended (--setup: prepared)",
        ExitCode.FAILED: "a problem with the model, a busy port, a protocol the server does not speak, "
        "or the server failed or exited",
        ExitCode.USAGE: "DIR is not a folder, DIR and --server together (or neither), no model artifact "
        "at --model-uri, a --host that is not a local address, a port out of range, a bad "
        "--workers/--parameters, or a flag the chosen server or --setup would ignore",
    }
)


def _defaults() -> dict[str, object]:
    """Each serving option's default, in one place: add_arguments uses them and --setup refuses an
    option set to anything else (it starts no server, so the option would be ignored)."""
    from fadi_seldon.model import serving

    return {
        "host": serving.DEFAULT_HOST,
        "port": serving.WRAPPER_HTTP_PORT,
        "grpc_port": None,
        "metrics_port": serving.WRAPPER_METRICS_PORT,
        "workers": 1,
        "no_grpc": False,
        "parameters": None,
        "timeout": 60.0,
        "no_install": False,
        "model_uri": None,
        "name": None,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    add_model_arguments(parser, "folder holding the model's Python module (not with --server)", optional=True)
    parser.add_argument(
        "--server",
        metavar="NAME",
        help="a prepackaged server (SKLEARN_SERVER, XGBOOST_SERVER, MLFLOW_SERVER) serving --model-uri",
    )
    parser.add_argument(
        "--model-uri", metavar="PATH", help="with --server: the model artifact, a file or its folder"
    )
    parser.add_argument(
        "--protocol",
        choices=("seldon", "v2"),
        help="the deployment's protocol: seldon (default) or v2 (MLServer; the default for a folder "
        "packaged with --runtime mlserver)",
    )
    parser.add_argument(
        "--name",
        help="with --server: the model's name, i.e. the graph node's (default: the artifact's folder)",
    )
    defaults = _defaults()
    parser.add_argument("--host", default=defaults["host"], help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=defaults["port"], help="REST port (9000)")
    parser.add_argument(
        "--grpc-port", type=int, help="gRPC port (5000 for the Seldon wrapper, 9500 for MLServer)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=defaults["metrics_port"], help="metrics port (6000)"
    )
    parser.add_argument("--workers", type=int, default=defaults["workers"], help="REST worker processes (1)")
    parser.add_argument(
        "--no-grpc", action="store_true", help="no gRPC server (2 processes fewer; the wrapper only)"
    )
    parser.add_argument(
        "--parameters", metavar="JSON", help='constructor parameters: [{"name","value","type"}]'
    )
    parser.add_argument(
        "--venv",
        type=Path,
        help="the server's venv (default: FADI_SERVE_VENV or .venv-serve for the wrapper, "
        "FADI_MLSERVER_VENV or .venv-mlserver for MLServer)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="fail instead of creating or completing the server's venv"
    )
    parser.add_argument(
        "--timeout", type=float, default=defaults["timeout"], help="seconds to wait for readiness (60)"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="only create or complete the server's venv (DIR's, or --server's: no --model-uri needed) and "
        "print its python, e.g. to train the model with the server's own scikit-learn",
    )
    output.add_output_argument(parser)
    parser.set_defaults(output=None)  # -o goes with --setup only: serving prints no result


def _message(text: str) -> None:
    print(f"[serve] {text}", file=sys.stderr, flush=True)


class _Stop(Exception):
    """Raised from the SIGTERM handler to leave the wait loop through the cleanup path."""


def _check_usage(args: argparse.Namespace) -> None:
    """Refuse flags that cannot work together, would be ignored, or are out of range, before anything
    starts."""
    _check_what(args)
    if args.setup:
        given = [f"--{k.replace('_', '-')}" for k, v in _defaults().items() if getattr(args, k) != v]
        if given:
            raise usage(f"--setup prepares the server's venv and starts nothing: drop {', '.join(given)}")
    elif args.output is not None:
        raise usage("serve prints no result while it serves; -o goes with --setup")
    for flag, port in (
        ("--port", args.port),
        ("--grpc-port", args.grpc_port),
        ("--metrics-port", args.metrics_port),
    ):
        if port is not None and not 0 < port < 65536:
            raise usage(f"{flag} {port} is not a port number (1 to 65535)")
    if args.workers < 1:
        raise usage(f"--workers must be 1 or more, got {args.workers}")
    if args.parameters:
        try:
            if not isinstance(json.loads(args.parameters), list):
                raise ValueError("not a list")
        except ValueError as err:
            raise usage(f"--parameters must be a JSON list of {{name, value, type}}: {err}") from None


def _check_what(args: argparse.Namespace) -> None:
    """What to serve: a folder DIR, or --server with --model-uri (not needed by --setup), and only
    the options that go with it."""
    if args.server or args.model_uri:
        if args.folder or not (args.server and (args.model_uri or args.setup)):
            raise usage("--server NAME and --model-uri PATH go together, without DIR")
        if args.class_ref or args.service_type != "MODEL":
            raise usage("--class and --service-type choose a class in DIR; --server serves an artifact")
    elif args.folder is None:
        raise usage("give a model folder DIR, or --server NAME --model-uri PATH")
    else:
        check_folder(Path(args.folder))
        if args.name:
            raise usage("--name names a --server's model; a folder's model has its own name (drop --name)")


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.model import packaging, serving

    _check_usage(args)
    try:
        if args.setup:
            return _setup(args)
        serving.check_host(args.host)
        server, what = _server(args)
    except serving.BadServeInput as err:  # an address or an artifact that cannot be used as given
        raise usage(str(err)) from None
    except (packaging.PackageError, serving.ServeError) as err:
        raise CliError(str(err)) from None
    return _serve(args, server, what)


def _setup(args: argparse.Namespace) -> int:
    """The server's venv, created or completed; its python is the result (text: the path alone,
    for `$(fadi-seldon serve --setup ...)`)."""
    from fadi_seldon.model import mlserver

    if args.server:
        python = mlserver.prepackaged_venv(args.server, args.protocol or "seldon", args.venv, _message)
        kind = f"{args.server} (MLServer)"
    else:
        server, _ = _server(args)
        python = server.prepare(args.venv, True, _message)
        kind = server.kind
    result = {"server": kind, "venv": str(python.parent.parent), "python": str(python)}
    output.emit(result, args.output or "text", lambda r: r["python"])
    return ExitCode.OK


def _server(args: argparse.Namespace):
    """The server to run and a description of what it serves; errors say what to do instead."""
    from fadi_seldon.model import mlserver, packaging, serving

    ports = {"host": args.host, "http_port": args.port, "metrics_port": args.metrics_port}
    grpc = {"grpc_port": args.grpc_port} if args.grpc_port is not None else {}
    if args.server:
        mlserver.check_mlserver_flags(args.no_grpc, args.workers, args.parameters)
        server = mlserver.prepackaged(
            args.server, Path(args.model_uri), args.protocol or "seldon", args.name, **ports, **grpc
        )
        return server, f"{args.model_uri} with {args.server} (MLServer, protocol v2)"
    folder = Path(args.folder)
    runtime = packaging.packaged_runtime(folder)
    mlserver.check_protocol(runtime, args.protocol or ("v2" if runtime == "mlserver" else "seldon"), folder)
    if runtime == "mlserver":
        mlserver.check_mlserver_flags(args.no_grpc, args.workers, args.parameters)
        server = mlserver.packaged(folder, **ports, **grpc)
        return server, f"the MLServer runtime of {folder} (protocol v2)"
    cls = packaging.find_class(folder, args.class_ref, args.service_type)
    wrapper = serving.Wrapper(
        folder=folder.resolve(),
        interface_name=cls.interface_name,
        service_type=packaging.SERVICE_TYPES[args.service_type][1],
        grpc_port=args.grpc_port or serving.WRAPPER_GRPC_PORT,
        workers=args.workers,
        grpc_workers=0 if args.no_grpc else 1,
        parameters=args.parameters,
        **ports,
    )
    return wrapper, f"{cls.interface_name} ({args.service_type}) from {cls.where()}"


def _ready_lines(args: argparse.Namespace, server) -> list[str]:
    """Where the server answers, and a `predict` command to try."""
    from fadi_seldon.model import mlserver

    metrics = f"metrics http://{args.host}:{server.metrics_port}/metrics"
    if isinstance(server, mlserver.MLServer):
        return [
            f"POST {server.url}/v2/models/{server.model_name}/infer  (gRPC {args.host}:{server.grpc_port}, "
            f"{metrics}). Ctrl-C stops.",
            f"try: fadi-seldon predict {server.url} --protocol v2 --model {server.model_name} "
            "--ndarray '[[5.1, 3.5, 1.4, 0.2]]'",
        ]
    grpc = "off" if args.no_grpc else f"{args.host}:{server.grpc_port}"
    return [
        f"POST {server.url}/api/v1.0/predictions  (gRPC {grpc}, {metrics}). Ctrl-C stops.",
        f"try: fadi-seldon predict {server.url} --ndarray '[[1, 2, 3, 4]]'",
    ]


def _serve(args: argparse.Namespace, server, what: str) -> int:
    """Start the server, wait until it exits or a signal comes; always stop every process it started."""
    from fadi_seldon.model import serving

    def on_term(signum, frame):
        raise _Stop()

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and then Python never turns
    # it into KeyboardInterrupt (`fadi-seldon serve &` in a script would outlive `kill -INT`)
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, on_term) for sig in stop_signals}
    started = False
    try:
        python = server.prepare(args.venv, not args.no_install, _message)
        server.check_ports()
        _message(f"starting {what}")
        server.start(python, stdout=2)  # fd 2: the server's log is messages, serve has no result
        started = True
        took = server.wait_ready(args.timeout)
        first, *rest = _ready_lines(args, server)
        _message(f"ready in {took:.2f} s: {first}")
        for line in rest:
            _message(line)
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.2)
        code = server.process.returncode if server.process else 0
        raise CliError(f"{server.label} exited with code {code}; its output is above")
    except serving.ServeError as err:
        raise CliError(str(err)) from None
    except (KeyboardInterrupt, _Stop):
        _message("stopping")
        return ExitCode.OK
    finally:
        for sig in stop_signals:  # a second Ctrl-C does not cut the cleanup short (it ends in SIGKILL)
            signal.signal(sig, signal.SIG_IGN)
        server.stop()
        if started:
            _message(f"stopped (all {server.kind} processes ended)")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
