"""Process-wide memory-allocator settings for training on CPU."""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_glibc_malloc() -> bool:
    """Stop glibc from handing big freed blocks back to the OS after every step.

    By default glibc serves blocks above a (dynamic) threshold with fresh ``mmap`` pages and
    trims the heap top when more than 2x that threshold is free, so the (B, |V|) and (|V|, N)
    buffers of every training step are page-faulted in again: on a loaded 2-core VM this made
    a step 5-9x slower. Fixing both thresholds (32 MiB, glibc's maximum for mmap; 1 GiB for
    trimming) keeps them in the heap for reuse. Process-wide; returns False where it does not
    apply (not glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        return False
    return bool(ok)
