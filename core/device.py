"""Choosing where and in what precision the engine runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from .job import JobError


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then the CPU, unless the caller names one."""
    if requested and requested != "auto":
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise JobError(f"unknown device {requested!r}; use cuda, mps or cpu") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise JobError("device cuda was asked for, but torch sees no CUDA GPU")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise JobError("device mps was asked for, but this machine has no Metal GPU")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The reduced precision to run the network in, or None for plain fp32.

    On "auto" this picks bf16 only where the hardware computes it natively: on a CPU
    with AVX512-BF16 it measured 2.1x faster per iteration at 512 px, while emulated
    bf16 on plain AVX-512 took 6.1x as long as fp32 (docs/engine.md).
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise JobError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and _cpu_has_native_bf16():
        return torch.bfloat16
    return None


def _cpu_has_native_bf16() -> bool:
    """True only where the CPU computes bf16 in hardware (AVX512-BF16 or AMX).

    oneDNN also runs bf16 on plain AVX-512 by emulation, and there it measured about
    4x slower than fp32 here, so being able to run bf16 is not enough.
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


_tuned = False


def keep_buffers_in_heap() -> None:
    """Stop glibc from unmapping large activation buffers after every iteration.

    Each VGG pass allocates and frees the same few hundred MB; by default glibc hands
    them back to the kernel and faults them in again next time, which cost 15% of an
    iteration at 512 px.  Same effect as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=huge.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    libc = _libc()
    if libc is not None:
        m_trim_threshold, m_mmap_max = -1, -4
        libc.mallopt(m_mmap_max, 0)
        libc.mallopt(m_trim_threshold, 2**30)


def trim_heap() -> None:
    """Give the heap's free pages back to the kernel.

    Blocks of a few different shapes (corner, edge, inner) leave free chunks in the heap
    that the next shape does not fit, and the heap grows past one block's need: 1 GB
    more at 4096 px in 16 blocks.  A stage kept to its budget in files trims after each
    block, at the price of faulting those pages in again.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None
