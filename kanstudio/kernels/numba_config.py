"""numba's configuration for the engine's kernels, set before numba is
imported (the kernels package calls ``configure``): where compiled kernels are
cached, and the vector width they are compiled for."""
from __future__ import annotations

import os

__all__ = ["configure", "NARROW_AVX512"]

# AVX-512 CPUs that clock down on 512-bit code: LLVM's 256-bit default stays
NARROW_AVX512 = ("skylake-avx512", "cascadelake", "cooperlake", "knl", "knm")


def configure():
    _cache_dir()
    _full_width_vectors()


def _cache_dir():
    """Compiled kernels are cached next to the engine's files; where that is
    read-only (a system install, a frozen app) numba needs another place or
    recompiles every run."""
    if "NUMBA_CACHE_DIR" not in os.environ and not os.access(os.path.dirname(os.path.abspath(__file__)), os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(os.path.expanduser("~"), ".cache", "kanstudio", "numba")


def _full_width_vectors():
    """On AVX-512 CPUs LLVM vectorises with 256-bit registers by default
    (Skylake-X clocked down on 512-bit code); from Ice Lake on that no
    longer pays, and the kernels' loops run ~5% faster at full width.  A
    user's NUMBA_CPU_FEATURES wins."""
    if "NUMBA_CPU_FEATURES" in os.environ:
        return
    try:
        import llvmlite.binding as llvm
        features, cpu = llvm.get_host_cpu_features(), llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover - llvmlite missing or unable to probe: keep the defaults
        return
    if features.get("avx512f") and cpu not in NARROW_AVX512:
        os.environ["NUMBA_CPU_FEATURES"] = features.flatten() + ",-prefer-256-bit"
