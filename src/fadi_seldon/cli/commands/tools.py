"""`fadi-seldon tools`: install the pinned external tools, show their status, export their PATH."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = exit_codes.notes(
    {
        ExitCode.OK: "installed / every tool present / exports printed",
        ExitCode.FAILED: "an install failed, or `status` found a tool missing",
        ExitCode.USAGE: "an unknown tool or group name",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="install tools (default: all) into the tools folder")
    install.add_argument(
        "names", nargs="*", help="tools or groups (chart, cluster, operator, node, all); default all"
    )
    install.add_argument(
        "--force", action="store_true", help="reinstall even when the pinned version is present"
    )
    install.add_argument(
        "--sources",
        help="comma-separated sources to try in order (path,release,go,source); default from FADI_TOOLS_SOURCES or all",
    )
    status = sub.add_parser("status", help="show each tool, its pinned version and whether it is installed")
    status.add_argument("names", nargs="*", help="tools or groups; default all")
    env = sub.add_parser("env", help="print shell exports that put the installed tools first on PATH")
    for p in (install, status):
        output.add_output_argument(p)
    # `--output sh` was the name of the exports format before -o became text|yaml|json everywhere
    output.add_output_argument(env, aliases={"sh": "text"})
    for p in (install, status, env):
        p.add_argument(
            "--tools-dir", help="tools folder (default: .tools in the checkout, or FADI_TOOLS_DIR)"
        )


def run(args: argparse.Namespace) -> int:
    from fadi_seldon import tools as toolchain

    try:
        chain = toolchain.Toolchain(
            tools_dir=Path(args.tools_dir) if args.tools_dir else None,
            sources=args.sources.split(",") if getattr(args, "sources", None) else None,
        )
        if args.action == "env":
            return _env(chain, args)
        selected = toolchain.select(args.names)
        system = toolchain.select_system(args.names)  # runc, iptables, CNI plugins (group node)
    except toolchain.ToolError as err:  # an unknown name or source: what was asked for is not usable
        raise usage(str(err)) from None
    try:
        if args.action == "install":
            return _install(chain, selected, system, args)
        return _status(chain, selected, system, args)
    except toolchain.ToolError as err:
        raise CliError(str(err)) from None


def _install(chain, selected, system, args) -> int:
    start = time.monotonic()
    results = chain.install_system(system) + chain.install(selected, force=args.force)
    took = time.monotonic() - start
    rows = [dataclasses.asdict(r) for r in results]

    def text(_) -> str:
        lines = []
        for r in rows:
            what = f"installed from {r['source']}" if r["changed"] else "up to date"
            lines.append(f"  {r['tool']:<16} {r['version']:<10} {what}")
        changed = sum(r["changed"] for r in rows)
        if changed:
            lines.append(f"{changed} tool(s) installed in {took:.1f}s into {chain.tools_dir}")
        else:
            lines.append(f"nothing changed: all {len(rows)} tools are at their pinned versions ({took:.1f}s)")
        return "\n".join(lines)

    output.emit(rows, args.output, text)
    return ExitCode.OK


def _status(chain, selected, system, args) -> int:
    rows = chain.system_status(system) + chain.status(selected)

    def text(_) -> str:
        lines = []
        for row in rows:
            state = f"installed ({row['source']})" if row["installed"] else "missing"
            lines.append(f"  {row['tool']:<16} {row['pinned']:<10} {state}")
        return "\n".join(lines)

    output.emit(rows, args.output, text)
    return ExitCode.OK if all(r["installed"] for r in rows) else ExitCode.FAILED


def _env(chain, args) -> int:
    output.emit_exports(
        {"PATH": output.Prepend(str(chain.bin_dir)), "HELM_PLUGINS": str(chain.helm_plugins_dir)},
        args.output,
    )
    return ExitCode.OK
