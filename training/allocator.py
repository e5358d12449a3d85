"""Run training under tcmalloc when Debian's libtcmalloc-minimal4 is installed.

TensorFlow frees and reallocates its large activation buffers every step. glibc's malloc hands
buffers that big back to the kernel and maps fresh zeroed pages for the next step: the CamVid run
made 104,000 page faults a second (270 under tcmalloc), and a batch took ~4.8 s instead of ~3 s.
`bench/train_step.py` measures the difference side by side (1.34x on a 2-core CPU). LD_PRELOAD
only takes effect at process start, hence the re-exec; SEGCAM_MALLOC=system turns it off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TCMALLOC_PATHS = tuple(
    Path(f"/usr/lib/{arch}-linux-gnu/libtcmalloc_minimal.so.4")
    for arch in ("x86_64", "aarch64")
)


def tcmalloc_library() -> Path | None:
    return next((path for path in TCMALLOC_PATHS if path.is_file()), None)


def reexec_with_tcmalloc(argv: list[str], prog: str = "python -m training") -> None:
    """Replace this process by `python -m training argv` with tcmalloc preloaded (same PID, so
    signals and the exit code reach the caller unchanged); returns when that is not wanted.
    `prog` is the name the command was called by (`segcam`), kept for its usage lines."""
    preload = os.environ.get("LD_PRELOAD", "")
    if os.environ.get("SEGCAM_MALLOC") == "system" or "tcmalloc" in preload:
        return
    library = tcmalloc_library()
    if library is None:
        return
    env = dict(os.environ, LD_PRELOAD=f"{library} {preload}".strip(), SEGCAM_MALLOC="tcmalloc",
               SEGCAM_CLI_PROG=prog)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "training", *argv], env)


def active_allocator() -> str:
    """What this process allocates with, from its mapped libraries (not from the environment)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    return "tcmalloc" if "libtcmalloc" in maps else "glibc malloc"
