"""`fadi-seldon tools`: install the pinned external tools, show their status."""

from __future__ import annotations

import argparse
import json
import sys
import time

from fadi_seldon import tools as toolchain

HELP = "install and inspect the pinned external tools (helm, ct, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="install tools (default: all) into the tools folder")
    install.add_argument("names", nargs="*", help="tools or groups (chart, cluster, all); default all")
    install.add_argument(
        "--force", action="store_true", help="reinstall even when the pinned version is present"
    )
    install.add_argument(
        "--sources",
        help="comma-separated sources to try in order (path,release,go); default from FADI_TOOLS_SOURCES or all",
    )
    status = sub.add_parser("status", help="show each tool, its pinned version and whether it is installed")
    status.add_argument("names", nargs="*")
    status.add_argument("--output", choices=("text", "json"), default="text")
    env = sub.add_parser("env", help="print shell exports that put the installed tools first on PATH")
    env.add_argument("--output", choices=("sh", "json"), default="sh")
    for p in (install, status, env):
        p.add_argument(
            "--tools-dir", help="tools folder (default: .tools in the checkout, or FADI_TOOLS_DIR)"
        )


def run(args: argparse.Namespace) -> int:
    try:
        chain = toolchain.Toolchain(
            tools_dir=_path(args.tools_dir),
            sources=args.sources.split(",") if getattr(args, "sources", None) else None,
        )
        if args.action == "install":
            return _install(chain, args)
        if args.action == "status":
            return _status(chain, args)
        return _env(chain, args)
    except toolchain.ToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _path(value):
    from pathlib import Path

    return Path(value) if value else None


def _install(chain: toolchain.Toolchain, args) -> int:
    start = time.monotonic()
    results = chain.install(toolchain.select(args.names), force=args.force)
    for r in results:
        what = f"installed from {r.source}" if r.changed else "up to date"
        print(f"  {r.tool:<16} {r.version:<10} {what}")
    changed = sum(r.changed for r in results)
    took = time.monotonic() - start
    if changed:
        print(f"{changed} tool(s) installed in {took:.1f}s into {chain.tools_dir}")
    else:
        print(f"nothing changed: all {len(results)} tools are at their pinned versions ({took:.1f}s)")
    return 0


def _status(chain: toolchain.Toolchain, args) -> int:
    rows = chain.status(toolchain.select(args.names))
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            state = f"installed ({row['source']})" if row["installed"] else "missing"
            print(f"  {row['tool']:<16} {row['pinned']:<10} {state}")
    return 0 if all(r["installed"] for r in rows) else 1


def _env(chain: toolchain.Toolchain, args) -> int:
    env = {"PATH": f"{chain.bin_dir}:$PATH", "HELM_PLUGINS": str(chain.helm_plugins_dir)}
    if args.output == "json":
        print(json.dumps(env))
    else:
        for key, value in env.items():
            print(f'export {key}="{value}"')
    return 0
