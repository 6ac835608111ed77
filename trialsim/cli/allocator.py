"""Keep numpy's large temporaries in the heap between chunks (glibc malloc tuning).

A chunk of the vectorised engine allocates a few dozen arrays of ~0.5 MB (2,000 trials x 40 patients x 8 bytes)
and frees them at the end. With glibc's defaults, blocks that large are mmap-ed, or the heap top is trimmed
back to the operating system once the chunk frees them, so the next chunk page-faults the same memory in again.
Page faults are expensive in virtual machines: on the 2-core EPYC VM this project was measured on, they took
half of the engine's time. Raising the mmap and trim thresholds keeps freed memory in the heap for reuse.
Peak memory does not change (it is still bounded by the chunk); the process just keeps up to
``TRIM_THRESHOLD`` bytes of freed memory instead of returning it at once.

This is a process-wide setting, so the library never applies it on import: the command line calls
:func:`tune_allocator` at start-up, before any worker process is started (the environment variables set here
make glibc in child processes, e.g. loky workers, start with the same thresholds). Elsewhere than on glibc it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_allocator", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Allocations up to this size come from the heap (glibc's ceiling for the dynamic threshold on 64-bit).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Freed memory at the heap top kept for reuse before any is returned to the operating system.
TRIM_THRESHOLD = 256 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
_done = False


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds in this process and its future children.

    Returns True when the current process was tuned (glibc found and ``mallopt`` accepted both settings).
    Idempotent.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(TRIM_THRESHOLD))
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
