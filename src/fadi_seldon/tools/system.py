"""System packages a tool group needs from the operating system: found, or installed with apt-get.

A real node runs runc, iptables and the CNI plugins the distribution ships (see
``catalog.SYSTEM_PACKAGES``); they are not built or pinned here. `tools install node` checks each
one; what is missing is installed with ``apt-get install -y --no-install-recommends`` when we are
root and apt-get exists (``apt-get update`` and once more only when that install fails, e.g. no
package lists yet: ``runtime.apt``, as the image builders do), else the error names exactly the
Debian packages to install.

:func:`system_path` is what the cluster code asks: ``system_path("runc")`` -> ``/usr/sbin/runc``,
``system_path("cni")`` -> ``/usr/lib/cni``; a missing one raises ToolError with the install hint.
"""

from __future__ import annotations

import glob as globbing
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from fadi_seldon.runtime import apt, commands
from fadi_seldon.tools.catalog import system_registry
from fadi_seldon.tools.progress import Progress
from fadi_seldon.tools.spec import SystemPackage, ToolError


def default_which(name: str) -> str | None:
    """A system executable on PATH or in the sbin folders (a non-root user's PATH often lacks them)."""
    return commands.which(name)


def default_glob(pattern: str) -> list[str]:
    return sorted(globbing.glob(pattern))


def dpkg_version(debian_package: str) -> str | None:
    """The installed version of a Debian package, or None (not installed, or no dpkg)."""
    try:
        proc = commands.run(["dpkg-query", "-W", "-f=${Version}", debian_package], timeout=30)
    except (OSError, commands.TimeoutExpired):
        return None
    if not proc.ok:
        return None
    return proc.stdout.strip() or None


install_hint = apt.install_hint


class SystemPackages:
    """Finds and installs system packages; `which`, `glob`, `run`, `is_root`, `dpkg` are injectable."""

    def __init__(
        self,
        progress: Progress,
        log: Path,
        *,
        which: Callable[[str], str | None] | None = None,
        glob: Callable[[str], list[str]] | None = None,
        run: Callable[[str, list[str]], int] | None = None,
        is_root: Callable[[], bool] | None = None,
        dpkg: Callable[[str], str | None] | None = None,
    ) -> None:
        self.progress = progress
        self.log = log
        self.which = which or default_which
        self.glob = glob or default_glob
        self.run = run or self._run
        self.is_root = is_root or (lambda: os.geteuid() == 0)
        self.dpkg = dpkg or dpkg_version

    # finding
    def _need(self, need: str) -> str | None:
        if need.startswith("/"):
            found = self.glob(need)
            return found[0] if found else None
        return self.which(need)

    def missing(self, pkg: SystemPackage) -> list[str]:
        """The needs of `pkg` that are not there."""
        return [need for need in pkg.needs if self._need(need) is None]

    def find(self, pkg: SystemPackage) -> str | None:
        """Where `pkg` is (its `location`, or where its first need is), or None when any need is missing."""
        if self.missing(pkg):
            return None
        return pkg.location or self._need(pkg.needs[0])

    def version(self, pkg: SystemPackage) -> str:
        return self.dpkg(pkg.debian_package) or "system"

    # installing
    def ensure(self, packages: Sequence[SystemPackage]) -> list[str]:
        """Install what is missing of `packages`; the names installed now (ToolError when impossible)."""
        missing = [p for p in packages if self.missing(p)]
        if not missing:
            return []
        debs = list(dict.fromkeys(p.debian_package for p in missing))
        try:
            apt_get = apt.apt_get(self.which, self.is_root)
        except apt.AptUnavailable as err:
            raise ToolError(self._describe(missing, debs, str(err))) from None
        self.progress.say(
            f"system packages: {', '.join(p.name for p in missing)} missing; apt-get install {' '.join(debs)}"
        )
        try:
            apt.install(apt_get, debs, self.run, lambda line: self.progress.say(f"system packages: {line}"))
        except apt.AptFailed:
            raise ToolError(self._describe(missing, debs, f"apt-get failed, see {self.log}")) from None
        still = [p for p in missing if self.missing(p)]
        if still:
            raise ToolError(self._describe(still, debs, "still missing after apt-get install"))
        return [p.name for p in missing]

    def _describe(self, missing: Sequence[SystemPackage], debs: Sequence[str], why: str) -> str:
        lines = [f"missing system packages ({why}):"]
        for p in missing:
            lines.append(f"    - {p.name}: {', '.join(self.missing(p))} ({p.purpose or p.debian_package})")
        lines.append(f"  fix: as root, `{install_hint(debs)}` (Debian package names), then install again")
        return "\n".join(lines)

    def _run(self, label: str, argv: list[str]) -> int:
        return self.progress.run(
            f"system packages: {label}", argv, cwd=None, env=apt.environment(), log=self.log
        )


def system_path(name: str) -> str:
    """Where a system package the cluster uses is: "runc" -> "/usr/sbin/runc", "cni" -> "/usr/lib/cni".

    Raises ToolError naming the Debian package to install when it is missing, or for an unknown name.
    """
    packages = system_registry()
    if name not in packages:
        raise ToolError(f"unknown system package {name!r}; known: {', '.join(packages)}")
    pkg = packages[name]
    system = SystemPackages(Progress(), Path(os.devnull))
    found = system.find(pkg)
    if found is None:
        raise ToolError(
            f"{name} is missing ({', '.join(system.missing(pkg))}): run `make tools TOOLS={pkg.group}` "
            f"as root, or `{install_hint([pkg.debian_package])}`"
        )
    return found
