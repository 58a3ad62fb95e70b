"""eodrec's own on-device operators: the student's scoring by codebook and a one-pass top-k.

ExecuTorch runs ``embedding``, ``index_select`` and ``topk`` in its portable kernels: a batch of
100 sessions spends more time in the top-20 over 40k items than in the teacher's whole encoder,
and the student's lookups of its codebooks' scores cost almost as much as the teacher's product
with its table (``eodrec bench device-stages``). Two operators replace them:

* ``eodrec::code_scores(partial (P, B), rows (V, M) int32) -> (B, V)``: item v's score is the
  sum of its M rows of ``partial``, the session vectors' products with every codeword;
* ``eodrec::top_k(scores (B, C), k, start) -> (B, k) int64``: the columns of the k best scores
  among columns ``start`` and after, best first, ties to the lower column;
* ``eodrec::code_top_k(partial, rows, k, start) -> (values, ids)``: both at once, in one pass
  that never writes the (B, V) scores: the student's whole ranking.

Each is defined here for ``torch.export`` with a PyTorch implementation (eager PyTorch runs it;
it is the reference the tests hold the kernel to) and an out variant for ExecuTorch, whose
kernels are C++ (``kernels.cpp``, its arithmetic in ``ranking.h``). :func:`load_runtime_kernels`
compiles them once per source and ExecuTorch version into the cache (a C++ compiler is needed,
as for any native extension; ``-march=native``, for the machine that runs them) and loads them
into the running ExecuTorch, which must happen before a program that uses them is loaded.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from pathlib import Path

import torch

from eodrec.atomic import atomic_path
from eodrec.checkpoint import default_cache_dir

SOURCE = Path(__file__).with_name("kernels.cpp")
HEADERS = (Path(__file__).with_name("ranking.h"),)
COMPILERS = ("c++", "g++", "clang++")


class DeviceOpsError(RuntimeError):
    """The runtime kernels cannot be built or loaded."""


def _code_scores(partial: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return partial[rows.long()].sum(dim=1).T.contiguous()


def _top_k(scores: torch.Tensor, k: int, start: int) -> torch.Tensor:
    # topk orders exact ties as it likes; the kernel takes the lower column. Both are "the
    # same top-k up to ties" (eodrec.latency.same_topk), which is what bundles are held to.
    return scores[:, start:].topk(k, dim=1).indices + start


def _code_top_k(partial: torch.Tensor, rows: torch.Tensor, k: int, start: int):
    scores = _code_scores(partial, rows)
    ids = _top_k(scores, k, start)
    return scores.gather(1, ids), ids


def _define() -> torch.library.Library:
    """The operators' schemas and PyTorch implementations (functional and out variant)."""
    library = torch.library.Library("eodrec", "DEF")
    for name, schema, function in [
        ("code_scores", "(Tensor partial, Tensor rows)", _code_scores),
        ("top_k", "(Tensor scores, int k, int start)", _top_k),
    ]:
        library.define(f"{name}{schema} -> Tensor")
        out_schema = schema[:-1] + ", *, Tensor(a!) out)"
        library.define(f"{name}.out{out_schema} -> Tensor(a!)")
        library.impl(name, function, "CompositeExplicitAutograd")

        def out_variant(*args, out, function=function):
            return out.copy_(function(*args))

        library.impl(f"{name}.out", out_variant, "CompositeExplicitAutograd")
    library.define("code_top_k(Tensor partial, Tensor rows, int k, int start) -> (Tensor, Tensor)")
    library.define(
        "code_top_k.out(Tensor partial, Tensor rows, int k, int start, *, Tensor(a!) values, "
        "Tensor(b!) ids) -> (Tensor(a!), Tensor(b!))"
    )
    library.impl("code_top_k", _code_top_k, "CompositeExplicitAutograd")
    library.impl("code_top_k.out", _code_top_k_out, "CompositeExplicitAutograd")
    torch.library.register_fake("eodrec::code_top_k", _fake_code_top_k, lib=library)
    torch.library.register_fake("eodrec::code_scores", _fake_code_scores, lib=library)
    torch.library.register_fake("eodrec::top_k", _fake_top_k, lib=library)
    return library


def _fake_code_scores(partial: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return partial.new_empty(partial.shape[1], rows.shape[0])


def _code_top_k_out(partial, rows, k, start, *, values, ids):
    best, columns = _code_top_k(partial, rows, k, start)
    return values.copy_(best), ids.copy_(columns)


def _fake_code_top_k(partial: torch.Tensor, rows: torch.Tensor, k: int, start: int):
    return partial.new_empty(partial.shape[1], k), _fake_top_k(partial.T, k, start)


def _fake_top_k(scores: torch.Tensor, k: int, start: int) -> torch.Tensor:
    return scores.new_empty(scores.shape[0], k, dtype=torch.int64)


_LIBRARY = _define()  # once per process, on import
code_scores = torch.ops.eodrec.code_scores
top_k = torch.ops.eodrec.top_k
code_top_k = torch.ops.eodrec.code_top_k

_loaded: dict[str, Path] = {}  # library name: the one file loaded into this process


def _executorch_dir() -> Path:
    try:
        import executorch
    except ImportError:
        raise DeviceOpsError(
            "ExecuTorch is not installed; install it with `pip install -e '.[device]'`"
        ) from None
    return Path(next(iter(executorch.__path__)))  # a namespace package: no __file__


def _compile_command(compiler: str, target: Path, et: Path) -> list[str]:
    return [
        compiler,
        "-O3",
        "-march=native",  # built on the machine that runs it, like any JIT-built extension
        "-std=c++17",
        "-shared",
        "-fPIC",
        "-DC10_USING_CUSTOM_GENERATED_MACROS",  # the runtime's headers, without a CMake build
        f"-I{et / 'include'}",
        f"-I{et / 'include' / 'executorch' / 'runtime' / 'core' / 'portable_type' / 'c10'}",
        str(SOURCE),
        f"-L{et / 'lib'}",
        "-lexecutorch",
        f"-Wl,-rpath,{et / 'lib'}",
        "-o",
        str(target),
    ]


def _library_name() -> str:
    """The compiled kernels' file name: one per source and ExecuTorch version."""
    from importlib.metadata import version

    sources = b"".join(path.read_bytes() for path in (SOURCE, *HEADERS))
    return f"kernels-{hashlib.sha256(sources + version('executorch').encode()).hexdigest()[:16]}.so"


def runtime_library(cache_dir: Path | None = None) -> Path:
    """The compiled kernels for this source and ExecuTorch, built into the cache if absent."""
    et = _executorch_dir()
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    target = Path(cache_dir or default_cache_dir()) / "device_ops" / _library_name()
    if target.exists():
        return target
    if compiler is None:
        raise DeviceOpsError(
            f"building eodrec's ExecuTorch kernels needs a C++ compiler ({', '.join(COMPILERS)})"
            "; install one (Debian: apt install g++)"
        )
    with atomic_path(target) as temp:
        built = subprocess.run(_compile_command(compiler, temp, et), capture_output=True, text=True)
        if built.returncode != 0:
            raise DeviceOpsError(f"compiling {SOURCE.name} failed:\n{built.stderr[-2000:]}")
    return target


def load_runtime_kernels(cache_dir: Path | None = None) -> Path:
    """Build if needed and load the kernels into this process's ExecuTorch runtime, once: the
    runtime refuses (aborts on) a second registration of an operator, so a build of the same
    source in another cache directory is not loaded again."""
    from executorch.runtime import Runtime

    if _loaded:
        return _loaded[_library_name()]
    Runtime.get()  # the runtime's library first, so the kernels register into it
    path = runtime_library(cache_dir)
    try:
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except OSError as error:
        raise DeviceOpsError(f"cannot load {path}: {error}; delete it to rebuild") from None
    _loaded[path.name] = path
    return path


def unavailable_reason(cache_dir: Path | None = None) -> str | None:
    """Why this machine cannot run the kernels (no ExecuTorch, no compiler, a failed build), or
    None where they load: benchmarks measure without them and say why."""
    try:
        load_runtime_kernels(cache_dir)
    except (DeviceOpsError, ImportError) as error:
        return str(error)
    return None
