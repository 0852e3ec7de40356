"""The pod sandbox ("pause") image: a tiny static program that holds a pod's namespaces open.

The runtime starts it first in every pod; it must do nothing, exit 0 when told to stop, and, as
PID 1 of a pod sharing its process namespace, reap orphaned children so they do not pile up as
zombies. The program is written here (below) and compiled with the host's gcc as a static binary,
so the image has one file and no libc. Cached by PAUSE_IMAGE_VERSION and the source's hash.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from fadi_seldon.images import (
    Built,
    ImageError,
    Progress,
    apt_install,
    cache_dir,
    cached,
    ensure_command,
    run_logged,
)
from fadi_seldon.runtime import oci, versions

# nobody:nogroup on most distributions; the sandbox needs no privilege at all
PAUSE_UID = 65535
REPOSITORY = "localhost/fadi-seldon/pause"

# Blocks in sigsuspend() with every signal but the ones handled below blocked. SIGCHLD reaps every
# exited child (waitpid in a loop: one SIGCHLD may stand for several exits); SIGTERM and SIGINT end
# the program with status 0, which is how the runtime stops a sandbox.
PAUSE_C = r"""
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void on_child(int sig) {
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int handle(int sig, void (*fn)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = fn;
    action.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigfillset(&action.sa_mask);
    return sigaction(sig, &action, NULL);
}

int main(int argc, char **argv) {
    sigset_t blocked, waiting;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        static const char version[] = "fadi-seldon pause\n";
        return write(1, version, sizeof(version) - 1) < 0;
    }
    sigfillset(&blocked);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    if (handle(SIGTERM, on_stop) || handle(SIGINT, on_stop) || handle(SIGCHLD, on_child)) {
        static const char failed[] = "pause: cannot install signal handlers\n";
        (void)!write(2, failed, sizeof(failed) - 1);
        return 1;
    }
    sigfillset(&waiting);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGCHLD);
    while (!stop_requested) {
        sigsuspend(&waiting);
    }
    return 0;
}
"""


def version() -> str:
    return versions.get("PAUSE_IMAGE_VERSION")


def image_ref() -> str:
    return f"{REPOSITORY}:{version()}"


def compile_pause(output: Path, progress: Progress | None = None) -> Path:
    """Compile the program above into a static, stripped binary at `output` (gcc -static -Os)."""
    progress = progress or Progress("pause")
    gcc = ensure_command("gcc", "gcc", progress)
    if not Path("/usr/include/signal.h").exists():
        apt_install("libc6-dev", progress, "the C library headers are missing")  # and the static libc
    work = Path(tempfile.mkdtemp(prefix="fadi-pause-"))
    try:
        source = work / "pause.c"
        source.write_text(PAUSE_C, encoding="utf-8")
        log = cache_dir() / "logs" / f"pause-{version()}.log"
        argv = [gcc, "-static", "-Os", "-s", "-Wall", "-o", str(work / "pause"), str(source)]
        run_logged(argv, log, "compiling the pause program (gcc -static; needs libc6-dev)")
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(work / "pause", output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


def build(progress: Progress | None = None) -> Built:
    """The pause image archive (`localhost/fadi-seldon/pause:<PAUSE_IMAGE_VERSION>`), cached."""
    progress = progress or Progress("pause")
    source_hash = hashlib.sha256(PAUSE_C.encode()).hexdigest()[:12]
    archive = cache_dir() / f"pause-{version()}-{source_hash}.oci.tar"
    found = cached(archive, progress, "pause")
    if found:
        return found
    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".pause-", dir=archive.parent))
    try:
        progress.say("compiling pause.c (gcc -static -Os)")
        binary = compile_pause(work / "pause", progress)
        layer = oci.Layer(comment="COPY pause /pause")
        layer.add_file("pause", binary.read_bytes(), mode=0o755)
        blob = layer.write(work / "layer.tar")
        config = oci.ImageConfig(
            user=f"{PAUSE_UID}:{PAUSE_UID}", entrypoint=["/pause"], working_dir="/",
            labels={"org.opencontainers.image.title": "fadi-seldon pause", "version": version()},
        )  # fmt: skip
        written = oci.write_archive(archive, [blob], config, image_ref())
    except OSError as err:
        raise ImageError(f"cannot write the pause image into {archive.parent}: {err}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.say(f"wrote {archive} ({written.size / 1e3:.0f} kB)")
    return Built(written.path, written.ref, written.digest, written.size)
