"""glibc malloc tuning for training processes on CPU.

glibc serves every allocation above its mmap threshold (128 KiB, rising to at most 32 MiB) with a
fresh mmap and gives it back on free, so each large activation of a conv net is page-faulted in
anew on every update: DrQ-v2's update at batch 256 measured 0.79 s as is and 0.48 s with the
thresholds raised (benchmarks/drqv2_speed.py). Raising the mmap and trim thresholds keeps freed
memory in the heap for reuse. It changes no numbers, only where memory comes from; the replay's
single huge allocation (above 2 GiB) is still mapped directly. Off with VISUOMOTOR_MALLOC=default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LIMIT = 2**31 - 1  # mallopt takes an int
_done: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they are raised."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux") or os.environ.get("VISUOMOTOR_MALLOC", "") == "default":
        return False
    if "GLIBC_TUNABLES" in os.environ and "malloc" in os.environ["GLIBC_TUNABLES"]:
        return False  # the user chose already
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _LIMIT)) and bool(mallopt(_M_TRIM_THRESHOLD, _LIMIT))
    return _done
