"""Where tensors live: device choice, CPU threads, seeding, and what this hardware is good at.

Device order is CUDA > MPS > CPU; set `PTLAB_DEVICE=cpu` (or `cuda`, `cuda:1`, `mps`) to override.
"""

import os
import threading
from dataclasses import dataclass

import torch

DEVICE_ENV = "PTLAB_DEVICE"
THREADS_ENV = "PTLAB_THREADS"
RESERVE_ENV = "PTLAB_RESERVE_CORES"    # cores small-kernel runs leave to other work (the app sets 1)


@dataclass(frozen=True)
class DeviceInfo:
    kind: str            # "cuda", "mps" or "cpu"
    name: str            # e.g. "NVIDIA H200" or the CPU model
    threads: int         # intra-op threads torch uses on the CPU
    bf16_fast: bool      # the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)


def usable_cores() -> int:
    """Cores this process may run on (respects cgroups/affinity, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


def set_cpu_threads(threads: int | None = None, small_ops: bool = False) -> int:
    """One intra-op thread per usable core, or exactly `PTLAB_THREADS`; returns the number set.

    The thread count is process-wide, so no engine calls this during a run: the app decides once
    when the server starts (`ui.state`), benchmarks and tests at their start.

    `small_ops`: the run is a stream of small kernels (layers of a few hundred units, recurrent
    steps). Such runs stall when another process takes a core from one of the intra-op threads,
    because every small parallel region waits for the descheduled thread; so they leave
    `PTLAB_RESERVE_CORES` cores free (the app sets 1, for its server and the browser drawing the
    live charts). Measured in Chromium on a 2-core machine, default runs, all cores vs one core
    left free: page 61 68.9 s vs 16.2 s and page 62's forecast 9.4 s vs 4.6 s, while the
    convolution-heavy pages were faster with both cores (style transfer 24.0 s vs 34.1 s, UNet
    31.3 s vs 35.3 s, adversarial 20.3 s vs 25.8 s, autoencoder 14.0 s vs 15.3 s)."""
    reserve = int(os.environ.get(RESERVE_ENV, "0")) if small_ops else 0
    wanted = threads or int(os.environ.get(THREADS_ENV, "0")) or max(1, usable_cores() - reserve)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


def configure_threads(workers: int = 1) -> int:
    """The server's thread policy, decided once when it starts (the runner calls this before its
    first job): `PTLAB_THREADS`, else the usable cores less `PTLAB_RESERVE_CORES` (the app keeps
    one for its server and the browser), shared among the runner's `workers`. On 2 cores that is
    one thread for one run at a time: the small-kernel pages stall badly when a busy core takes one
    of their threads (see `set_cpu_threads`), which costs more than the convolution pages gain."""
    reserve = int(os.environ.get(RESERVE_ENV, "0"))
    wanted = int(os.environ.get(THREADS_ENV, "0")) or max(1, (usable_cores() - reserve) // max(1, workers))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


def pick_device() -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU; `PTLAB_DEVICE` overrides."""
    override = os.environ.get(DEVICE_ENV, "").strip()
    if override:
        return torch.device(override)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def describe(device: torch.device | None = None) -> DeviceInfo:
    """What the demos will run on, for the home page and the benchmarks."""
    device = device or pick_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        name = cpu_name()
    # Without these instructions bf16 matmuls are emulated and run slower than fp32 (pytorch#86270).
    bf16_fast = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return DeviceInfo(device.type, name, torch.get_num_threads(), bf16_fast)


def run_device(requested: str | None = None) -> torch.device:
    """The device a run trains on: the one its config names, else `pick_device()`."""
    return torch.device(requested) if requested else pick_device()


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def device_label(reported: str | None = None) -> str:
    """A run's device in a few words for its status line: "CPU", "GPU · NVIDIA H200", "Apple GPU (MPS)";
    `reported` is what the run put in its report (`str(device)`), else the device a run would pick."""
    device = torch.device(reported) if reported else pick_device()
    if device.type == "cuda":
        return f"GPU · {torch.cuda.get_device_name(device)}"
    return {"cpu": "CPU", "mps": "Apple GPU (MPS)"}.get(device.type, str(device))


_WARM_LOCK = threading.Lock()
_WARMED = False


def warm_up() -> None:
    """Load once per process what PyTorch loads lazily on a run's first steps, so that a run's
    first report is not kept waiting by it: the first optimiser imports `torch._dynamo` (2.3 s of a
    multi-task run's first 2.9 s on the CPU without AVX-512), and the first convolution and its
    backward pass make oneDNN build its kernels. The app calls this in a background thread when a
    training page first opens (`ui.experiment`); `benchmarks/defaults_speed.py` calls it before
    timing. It changes no setting: no thread count, no seed, no default dtype."""
    global _WARMED
    with _WARM_LOCK:
        if _WARMED:
            return
        import torch._dynamo  # what torch.optim.Optimizer.__init__ imports on its first use

        layer = torch.nn.Conv2d(1, 4, 3)
        optimizer = torch.optim.Adam(layer.parameters(), lr=0.0, fused=True)
        layer(torch.zeros(2, 1, 8, 8)).sum().backward()
        optimizer.step()
        _WARMED = True
