"""Choosing the torch device a model runs on, and its number of CPU threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .._utils import PRECISIONS, check_integer

__all__ = ["PRECISIONS", "bfloat16_supported", "check_precision", "check_precision_on",
           "resolve_device", "torch_threads"]


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the ``with`` block with torch on ``n_threads`` CPU threads, then restore the setting.

    Parameters
    ----------
    n_threads : int or None
        Threads for torch's CPU operations; None leaves torch's setting as it is
        (by default, one per core).

    Notes
    -----
    Torch's thread count is one setting for the whole process: two blocks
    running at once in threads of one process share it.
    """
    n_threads = check_integer(n_threads, "n_threads", none_ok=True)
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a torch device.

    Each device gets one name: ``"cpu:0"`` is ``"cpu"``, and ``"cuda"`` is the
    current CUDA device with its index.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the device is not understood or not available on this machine.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}.")
    if resolved.type == "cpu":
        if resolved.index not in (None, 0):
            raise ValueError(f"device={device!r}: there is one CPU device, 'cpu'.")
        return torch.device("cpu")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
        if resolved.index is None:  # one name per device: "cuda" is the current one
            resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def check_precision(precision: object) -> str:
    """Return ``precision`` if it names one of :data:`PRECISIONS`, else raise a ValueError."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    return precision


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


#: oneDNN's names (as its ``ONEDNN_MAX_CPU_ISA`` takes them) of the
#: instruction sets that hold native bfloat16 dot products; a cap below them
#: makes torch emulate bfloat16 products although the CPU has them.
_BFLOAT16_ISAS = frozenset({
    "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX",
    "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT"})
_ISA_CAPS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")  # the order oneDNN reads them in


def _cpu_bfloat16_problem() -> str | None:
    """Why this process would emulate bfloat16 products on the CPU, or None if it would not."""
    for name in _ISA_CAPS:
        cap = os.environ.get(name, "").strip()
        if cap:
            if cap.upper() not in _BFLOAT16_ISAS:
                return f"{name}={cap} keeps PyTorch's bfloat16 kernels off AVX512-BF16 and AMX"
            break
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(probe) for probe in probes):
        native = any(probe() for probe in probes)
    else:
        native = bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    if not native:
        return "this CPU has neither AVX512-BF16 nor AMX"
    if not _onednn_bfloat16():
        return "this PyTorch build does not run bfloat16 products through oneDNN here"
    return None


def _onednn_bfloat16() -> bool:
    """Whether torch's oneDNN kernels, which bfloat16 products go through, take bfloat16 here."""
    if not torch.backends.mkldnn.is_available():
        return False
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return probe is None or bool(probe())


def bfloat16_supported(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively.

    On CUDA, a GPU of compute capability 8.0 or later (Ampere on; earlier
    ones emulate bfloat16), or what torch reports on ROCm; on the CPU,
    AVX512-BF16 or AMX (asked of torch's CPU-feature probe where it has one,
    else read from ``/proc/cpuinfo``), used by torch's oneDNN kernels and not
    capped below them by ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``).
    Elsewhere bfloat16 products are emulated, hundreds of times slower than
    float32 ones.
    """
    if device.type == "cuda":
        if torch.version.hip:
            return bool(torch.cuda.is_bf16_supported())
        return torch.cuda.get_device_capability(device)[0] >= 8
    return _cpu_bfloat16_problem() is None


def check_precision_on(precision: str, device: torch.device) -> None:
    """Raise a ValueError when ``precision`` cannot run at full speed on ``device``."""
    if check_precision(precision) == "bfloat16" and not bfloat16_supported(device):
        if device.type == "cpu":
            where = _cpu_bfloat16_problem() or "this CPU has neither AVX512-BF16 nor AMX"
        else:
            where = f"{device} does not support bfloat16"
        raise ValueError(
            f"precision='bfloat16' needs native bfloat16 matrix products, and {where}: "
            "there it would run many times slower than float32. Use precision='float32' "
            "(the default)."
        )
