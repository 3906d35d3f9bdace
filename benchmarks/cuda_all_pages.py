"""Every page's default experiment on CUDA and on the CPU, in one process, side by side.

    python benchmarks/cuda_all_pages.py              # both devices (CUDA only if present)
    python benchmarks/cuda_all_pages.py --quick      # a tenth of the steps: checks every CUDA path fast

For each experiment: seconds from start to the last report on each device, the CPU / CUDA ratio,
and the final metrics on both (they differ a little: the devices use different kernels). Prints
the CPU model, its bf16 support and the GPU. Page 69's DDP runs in worker processes (NCCL on
CUDA with one process per GPU, else Gloo on the CPU); on a single GPU its world size is 1.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine import (
    adversarial,
    autoencoder,
    data,
    distributed,
    half_precision,
    images,
    lstm,
    multitask,
    optimizers,
    regression,
    style_transfer,
    unet,
    vgg,
)
from engine.device import configure_threads, cpu_flags, cpu_name


def shorter(config, fraction: float, *fields: str):
    changes = {name: max(2, int(getattr(config, name) * fraction)) for name in fields}
    return dataclasses.replace(config, **changes)


def experiments(quick: bool):
    """name -> function(device) returning the experiment's generator at the page's defaults."""
    digits = data.load_digits()
    f = 0.1 if quick else 1.0
    series = lstm.synthetic_series(lstm.SeriesConfig())
    regression_data = regression.make_data(regression.DataConfig())
    extractor = vgg.load_extractor(vgg.find_weights())
    content = images.to_tensor(images.fit_within(images.load_sample(images.PHOTOS[0]), 512))
    style = images.to_tensor(images.fit_within(images.load_sample(images.TEXTURES[0]), 512))
    clean = images.to_tensor(images.fit_within(images.load_sample(images.PHOTOS[0]), 256))

    def with_device(config, device, *fields):
        return dataclasses.replace(shorter(config, f, *fields) if fields else config, device=device)

    return {
        "61 multitask": lambda d: multitask.train(with_device(multitask.MultitaskConfig(), d, "steps"), digits),
        "62 forecast": lambda d: lstm.train_forecaster(with_device(lstm.ForecastConfig(), d, "steps"), series),
        "62 memory race": lambda d: lstm.train_adding(with_device(lstm.AddingConfig(), d, "steps")),
        "62 rows": lambda d: lstm.train_rows(with_device(lstm.RowsConfig(), d, "steps"), digits),
        "63 regression": lambda d: regression.train(with_device(regression.RegressionConfig(), d, "num_steps"),
                                                    regression_data),
        "64 network": lambda d: optimizers.compare_on_network(with_device(optimizers.NetworkConfig(), d, "steps"),
                                                              digits),
        "65 adversarial": lambda d: adversarial.train(with_device(adversarial.AdversarialConfig(), d, "steps"),
                                                      digits),
        "66 segmentation": lambda d: unet.train(with_device(unet.SegmentationConfig(), d, "steps")),
        "66 denoiser": lambda d: unet.denoise(with_device(unet.DenoiseConfig(), d, "steps"), clean),
        "67 autoencoder": lambda d: autoencoder.train(with_device(autoencoder.AutoencoderConfig(), d, "steps"),
                                                      digits),
        "68 race": lambda d: half_precision.train_race(with_device(half_precision.RaceConfig(), d, "steps"), digits),
        "69 DDP": lambda d: distributed.train(with_device(distributed.DDPConfig(), d, "steps")),
        "70 style transfer": lambda d: style_transfer.transfer(
            with_device(style_transfer.StyleConfig(), d, "steps"), extractor, content, style),
    }


def run(make, device: str) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    last = None
    for last in make(device):          # noqa: B007 - only the last report counts
        pass
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, last.metrics


def short(metrics: dict[str, float], count: int = 3) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    parser.add_argument("--only", default="", help="run only experiments whose name contains this")
    args = parser.parse_args()
    threads = configure_threads()
    bf16 = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(f"CPU: {cpu_name()} ({threads} threads), native bf16: {'yes' if bf16 else 'no'}")
    print(f"GPU: {gpu or 'none: CUDA column skipped (not run)'}; torch {torch.__version__}")
    devices = ["cpu"] + (["cuda"] if gpu else [])
    print(f"{'experiment':<20} {'CPU s':>8} {'CUDA s':>8} {'CPU/CUDA':>9}  final metrics (CPU | CUDA)")
    failures = 0
    for name, make in experiments(args.quick).items():
        if args.only and args.only not in name:
            continue
        results = {}
        for device in devices:
            try:
                results[device] = run(make, device)
            except Exception as error:        # noqa: BLE001 - report every path, then fail at the end
                failures += 1
                results[device] = (float("nan"), {"error": float("nan")})
                print(f"  {name} on {device}: {type(error).__name__}: {error}")
        cpu_s, cpu_m = results["cpu"]
        cuda_s, cuda_m = results.get("cuda", (float("nan"), {}))
        ratio = cpu_s / cuda_s if cuda_m else float("nan")
        print(f"{name:<20} {cpu_s:8.1f} {cuda_s:8.1f} {ratio:9.2f}  {short(cpu_m)} | {short(cuda_m)}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
