"""What the hardware and toolchain offer, asked once in one place: native bf16, a C++ compiler for
torch.compile's CPU backend, and compiling a function with an eager fallback.

The speed switches of every algorithm (SAC's bf16 and compile, DrQ-v2's bf16) and the runner's
defaults read these; none of them probes the machine on its own.
"""

from __future__ import annotations

import os
import shutil
import warnings
from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls run natively (and so faster than float32) on ``device``: CUDA with bf16
    support; a CPU with AVX512-BF16 or AMX (Linux's /proc/cpuinfo flags)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    return False


def use_bf16(requested: bool | None, device: torch.device) -> bool:
    """A config's ``bf16`` switch resolved: None means ``native_bf16(device)``. Asking for bf16 where the
    hardware lacks it still turns it on, with a warning: its matmuls are then emulated (one simbav2 SAC
    update took 45x its float32 time on an AVX2-only AMD EPYC, 2026-12-04)."""
    if requested is None:
        return native_bf16(device)
    if requested and not native_bf16(device):
        warnings.warn(f"bf16 is on but {torch.device(device)} has no native bf16 (a CPU needs AVX512-BF16 or AMX): "
                      f"its matmuls are emulated and far slower than float32; set bf16 False, or leave it None "
                      f"to decide by the hardware", stacklevel=2)
    return bool(requested)


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would call ($CXX, else g++, c++ or clang++), or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


AUTO_COMPILE_UPDATES = 20_000
"""Updates from which a CPU run compiles an update left to decide (compile None): the ~15-30 s of
compiling is then under 3% of the run."""


def long_cpu_run_compiles(device: torch.device, updates: int) -> bool:
    """Whether a run of ``updates`` updates on ``device`` is a CPU run long enough for compiling to pay
    (``AUTO_COMPILE_UPDATES``) on a machine with a C++ compiler."""
    return device.type == "cpu" and updates >= AUTO_COMPILE_UPDATES and cpp_compiler() is not None


def compiled_or_eager(fn):
    """``fn`` (a function of tensors that changes no state) compiled whole by torch.compile. Should the
    first call fail to compile (a toolchain without Python headers, say), a warning says why and ``fn``
    runs eager from then on: the call has changed nothing, so it is simply made again."""
    compiled = torch.compile(fn, fullgraph=True, dynamic=False)
    state = {"fn": None}

    def call(*args):
        if state["fn"] is not None:
            return state["fn"](*args)
        try:
            out = compiled(*args)
        except Exception as e:  # noqa: BLE001 - any compiler failure; fn's own errors recur eagerly
            reason = (str(e).strip().splitlines() or [""])[0][:200]
            warnings.warn(f"torch.compile of {fn.__name__} failed ({type(e).__name__}: {reason}); running it "
                          f"eager (set compile False to skip compiling)", stacklevel=2)
            state["fn"] = fn
            return fn(*args)
        state["fn"] = compiled
        return out

    call.wrapped = fn
    return call
