"""`fadi-seldon predict`: send one request in Seldon's protocol and print the answer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.exit_codes import ExitCode

DEFAULT_URL = "http://127.0.0.1:9000"

EPILOG = """\
examples:
  fadi-seldon predict --ndarray '[[5.1, 3.5, 1.4, 0.2]]' --names sl,sw,pl,pw
  fadi-seldon predict http://127.0.0.1:9000 --tensor '[[5.1, 3.5, 1.4, 0.2]]'
  fadi-seldon predict http://INGRESS/seldon/NAMESPACE/DEPLOYMENT --json-data '{"text": "hello"}'
  fadi-seldon predict --file request.json -o json

The answer goes to stdout: -o text lays it out with array rows on one line, -o json and -o yaml
print it as such; an answer that is not JSON is printed as it came.

""" + exit_codes.notes(
    {
        ExitCode.OK: "the server answered with HTTP 2xx",
        ExitCode.FAILED: "an HTTP error (the answer is still printed), or no server could be reached",
        ExitCode.USAGE: "a bad payload option, URL or --file",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"server or ingress URL ({DEFAULT_URL})")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--ndarray", metavar="JSON", help="data.ndarray, a JSON array")
    data.add_argument("--tensor", metavar="JSON", help='data.tensor: a nested array or {"shape","values"}')
    data.add_argument("--json-data", metavar="JSON", help="jsonData, any JSON value")
    data.add_argument("--str-data", metavar="TEXT", help="strData, a string")
    data.add_argument("--bin-file", metavar="PATH", help="binData: the file's bytes, base64-encoded")
    data.add_argument("--file", metavar="PAYLOAD", help="a whole SeldonMessage in JSON ('-' for stdin)")
    parser.add_argument("--names", help="comma-separated feature names (data.names) for --ndarray/--tensor")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (30)")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry while nothing listens yet (scripts: serve &)",
    )
    output.add_output_argument(parser)


def build_payload(args: argparse.Namespace) -> dict:
    from fadi_seldon.model import payloads

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names and not (args.ndarray or args.tensor):
        raise payloads.PayloadError("--names goes with --ndarray or --tensor")
    if args.ndarray is not None:
        return payloads.ndarray(args.ndarray, names)
    if args.tensor is not None:
        return payloads.tensor(args.tensor, names)
    if args.json_data is not None:
        return payloads.json_data(args.json_data)
    if args.str_data is not None:
        return payloads.str_data(args.str_data)
    if args.bin_file is not None:
        try:
            return payloads.bin_data(Path(args.bin_file).read_bytes())
        except OSError as err:
            raise payloads.PayloadError(f"--bin-file: cannot read {args.bin_file}: {err.strerror}") from None
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise payloads.PayloadError(f"--file: cannot read {args.file}: {err}") from None
    return payloads.message(text, args.file)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.model import payloads

    try:
        url = payloads.endpoint(args.url)
        payload = build_payload(args)
    except payloads.PayloadError as err:
        output.error(str(err))
        return ExitCode.USAGE
    deadline = time.monotonic() + max(args.wait, 0.0)
    while True:
        try:
            resp = payloads.post(url, payload, timeout=args.timeout)
            break
        except payloads.TransportError as err:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            output.error(f"{err} (is the model running? `fadi-seldon serve DIR` starts one)")
            return ExitCode.FAILED
    try:
        output.emit(resp.json(), args.output, pretty)
    except ValueError:  # not JSON: the server's own words, whatever the format
        print(resp.body.strip())
    if not resp.ok:
        output.error(f"{url} answered HTTP {resp.status}{_reason(resp)}")
        return ExitCode.FAILED
    return ExitCode.OK


def pretty(value, indent: int = 0) -> str:
    """Indented JSON, except that arrays without objects stay on one line (rows of an ndarray read as rows)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = [f"{pad}  {json.dumps(k)}: {pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(f"{pad}  {pretty(v, indent + 2)}" for v in value) + f"\n{pad}]"
    return json.dumps(value)


def _reason(resp) -> str:
    """The wrapper's error shape is {"status": {"info", "reason", ...}}; show it in one line."""
    try:
        status = resp.json().get("status", {})
    except (ValueError, AttributeError):
        return ""
    if not isinstance(status, dict):
        return ""
    parts = [str(status[k]) for k in ("reason", "info") if status.get(k)]
    return f": {' - '.join(parts)}" if parts else ""
