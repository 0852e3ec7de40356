"""Installing Debian packages with apt-get: the one way the tool installer and the image builders do it.

Both need a package the host lacks (runc and iptables for a node; debootstrap, gcc and libc6-dev to
build an image) and install it the same way: only as root and only where apt-get exists (otherwise
the caller says exactly what to install), `apt-get install -y --no-install-recommends`, and when
that fails, `apt-get update` and once more: a fresh machine (a container image, a CI runner) often
has no package lists yet, and refreshing them is the cure; doing it only then keeps a machine that
has them offline-friendly. How the output is kept (a log with a heartbeat, or shown on stderr)
is the caller's `run`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from fadi_seldon.runtime import commands

INSTALL = ("install", "-y", "--no-install-recommends")

# (label, argv) -> exit code: how the caller runs apt-get and keeps its output
Runner = Callable[[str, list[str]], int]


class AptUnavailable(RuntimeError):
    """apt-get cannot be run here; the message says why (no apt-get, or not root)."""


class AptFailed(RuntimeError):
    """apt-get install failed, even after apt-get update."""


def install_hint(packages: Sequence[str]) -> str:
    """The command a user runs to install `packages` themselves."""
    return f"apt-get {' '.join(INSTALL)} {' '.join(packages)}"


def environment() -> dict[str, str]:
    """Our environment, with apt-get never stopping to ask a question (no terminal may answer)."""
    return dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def apt_get(
    which: Callable[[str], str | None] = commands.which, is_root: Callable[[], bool] | None = None
) -> str:
    """The apt-get to run; AptUnavailable when there is none or we are not root."""
    found = which("apt-get")
    if found is None:
        raise AptUnavailable("no apt-get on this machine")
    if not (is_root or _is_root)():
        raise AptUnavailable("not root, so apt-get is not run for you")
    return found


def install(apt: str, packages: Sequence[str], run: Runner, say: Callable[[str], None]) -> None:
    """`apt-get install` `packages`; when that fails, `apt-get update` and once more (whatever the
    update's own exit: a list that failed to refresh may not be the one needed). AptFailed when the
    second install fails too."""
    argv = [apt, *INSTALL, *packages]
    if run("apt-get install", argv) == 0:
        return
    say("apt-get install failed; refreshing the package lists (apt-get update), then once more")
    run("apt-get update", [apt, "update"])
    if run("apt-get install", argv) != 0:
        raise AptFailed(f"apt-get install {' '.join(packages)} failed")


def shown(label: str, argv: list[str]) -> int:
    """A Runner showing apt-get's output on stderr (a step the user waits on)."""
    return commands.run(argv, show=True, env=environment()).code


def _is_root() -> bool:
    return os.geteuid() == 0
