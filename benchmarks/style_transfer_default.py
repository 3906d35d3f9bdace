"""Style transfer: the balanced preset's run against the former default's settings, on the page's images.

The former default optimised the pixels, with 40 evaluations at 1/4 size and 30 at 1/2 size before 15 at
full size. The balanced preset (the page's first run until it moved to the fast preset) optimises the
multi-scale image (engine/style_transfer.py: Pyramid) with 20 evaluations at full size and no coarse levels.
Both run here, in this process and with this code, on
the same images and objective (256 px, the default weights, TV 0.1); each result is scored in fp32 at
full size. We print each run's time and loss, then the fewest evaluations of today's default that
reach the former settings' loss, and how much sooner that is. (The former *code* also clamped the
pixels between optimiser steps; docs/benchmarks.md gives its figures, measured at commit c5085cd.)

    python benchmarks/style_transfer_default.py [--pairs astronaut:swirls coffee:mosaic ...]
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from engine import artwork, style_transfer, vgg
from engine.device import cpu_flags, cpu_name

SIZE, STEPS, _ = style_transfer.PRESETS["balanced"]
FORMER = style_transfer.StyleConfig(size=SIZE, steps=15, coarse_steps=(40, 30), pyramid_levels=1)   # pixels,
                                                                                                    # coarse-to-fine
NOW = style_transfer.StyleConfig(size=SIZE, steps=STEPS)


def page_images(photo: str, painting: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The page's sample photo and painting, made as the page makes them."""
    return artwork.sample_image("photo", photo), artwork.sample_image("artwork", painting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=["astronaut:swirls", "coffee:mosaic", "chelsea:geometric"])
    args = parser.parse_args()
    source = vgg.find_weights()
    extractor = vgg.load_extractor(source)
    judge_extractor = vgg.FeatureExtractor(vgg.load_features(source, "relu5_1"), source.preprocessing)
    fast = style_transfer.use_fast_math(NOW, torch.device("cpu"))
    print(f"CPU: {cpu_name()}; bf16 in hardware: {bool(cpu_flags() & {'avx512_bf16', 'amx_bf16'})}; "
          f"{torch.get_num_threads()} threads; bf16 fast math: {fast}")
    print(f"former default: pixels, {FORMER.coarse_steps} coarse + {FORMER.steps} full-size evaluations; "
          f"now: {NOW.pyramid_levels}-level multi-scale image, {NOW.steps} evaluations; {NOW.size} px")

    def run(config, content, style) -> tuple[float, float]:
        start = time.perf_counter()
        *_, last = style_transfer.transfer(config, extractor, content, style)
        seconds = time.perf_counter() - start
        small = style_transfer.resize_to(content, config.size)
        judge = style_transfer.Objective(judge_extractor, config, small, style_transfer.resize_to(style, config.size),
                                         fast=False)
        with torch.no_grad():
            return seconds, judge(last.extras["image"][None])["total"].item()

    for pair in args.pairs:
        content, style = page_images(*pair.split(":"))
        for config in (FORMER, NOW):                     # warm up: the first run of a shape builds its kernels
            short = {"steps": 3, "coarse_steps": (3,) * len(config.coarse_steps)}
            run(style_transfer.StyleConfig(**{**config.__dict__, **short}), content, style)
        former_seconds, former_loss = run(FORMER, content, style)
        now_seconds, now_loss = run(NOW, content, style)
        print(f"{pair}: former {former_seconds:.1f} s, loss {former_loss:.4f}; now {now_seconds:.1f} s, "
              f"loss {now_loss:.4f}: {former_seconds / now_seconds:.2f}x sooner")
        for steps in range(5, 155, 5):
            seconds, loss = run(style_transfer.StyleConfig(**{**NOW.__dict__, "steps": steps}), content, style)
            if loss <= former_loss:
                print(f"  the former default's loss after {steps} evaluations: {seconds:.1f} s, "
                      f"{former_seconds / seconds:.2f}x sooner (loss {loss:.4f})")
                break
        else:
            print("  the former default's loss is not reached within 150 evaluations")


if __name__ == "__main__":
    main()
