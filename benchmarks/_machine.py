"""What machine a benchmark ran on: CPU model, cores and vector extensions."""

from __future__ import annotations

import os
import platform

# The extensions that decide which matrix and elementwise kernels run.
_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
               "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")


def _cpuinfo() -> tuple[str, set[str]]:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for row in info:
                key, _, value = row.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "cpu model") and value.strip():
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name, flags


# Environment variables that cap the instruction set the libraries use below
# what the CPU has: set, a run measures that code path on this CPU.
_ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
               "DNNL_MAX_CPU_ISA")


def _kernels() -> str:
    """The instruction set of PyTorch's own CPU kernels, and any limit set in the environment."""
    import torch

    text = f"torch kernels: {torch.backends.cpu.get_cpu_capability()}"
    limits = [f"{name}={os.environ[name]}" for name in _ISA_LIMITS if os.environ.get(name)]
    if limits:
        text += f", limited by {' '.join(limits)}"
    return text


def cpu_description() -> str:
    """``"<model>, <n> logical CPUs, vector extensions: ..., torch kernels: ..."``.

    For the report's header: the CPU, what it can do and which code path
    PyTorch takes (capped below the CPU's own by the environment variables
    in ``_ISA_LIMITS`` when they are set).
    """
    name, flags = _cpuinfo()
    found = [ext for ext in _EXTENSIONS if ext in flags] or ["unknown"]
    return (f"{name}, {os.cpu_count()} logical CPUs, vector extensions: {' '.join(found)}; "
            f"{_kernels()}")
