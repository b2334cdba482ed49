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


def cpu_description() -> str:
    """``"<model>, <n> logical CPUs, vector extensions: ..."`` for the report's header."""
    name, flags = _cpuinfo()
    found = [ext for ext in _EXTENSIONS if ext in flags] or ["unknown"]
    return f"{name}, {os.cpu_count()} logical CPUs, vector extensions: {' '.join(found)}"
