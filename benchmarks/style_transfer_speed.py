"""Style transfer: how much sooner our engine reaches the loss a textbook implementation ends with.

The reference (benchmarks/style_reference.py) is written the way the well-known PyTorch tutorial
does it: fp32, contiguous tensors, loss modules in a VGG19 cut after the last loss layer, L-BFGS with
default settings, a fixed number of evaluations. Both optimise the same objective (same weights,
layers, loss definition, images and output size; no TV term, as in the tutorial). We then run our
engine with growing budgets at full size and report the first run whose final loss, measured the
same way (fp32, full size), is at or below the reference's, its time, and the ratio.

Our engine runs as the page does by default (the multi-scale image, no coarse-to-fine). `--pixels`
optimises the pixels instead: the default against `--pixels` is what the multi-scale image alone
gains. `--fp32` turns bf16 off, as it is on a CPU without native bf16.

    python benchmarks/style_transfer_speed.py [--layers gatys|tutorial] [--size 256] [--reference-steps 100]
                                              [--pixels] [--fp32] [--coarse 20]
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)]
import style_reference

from engine import artwork, images, style_transfer, vgg
from engine.device import cpu_flags, cpu_name

LAYER_SETS = {   # (content layer, style layers)
    "gatys": (style_transfer.CONTENT_LAYER, style_transfer.STYLE_LAYERS),
    "tutorial": ("conv2_2", ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")),
}
OUT = Path(__file__).with_name("out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", choices=list(LAYER_SETS), default="gatys")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reference-steps", type=int, default=100)
    parser.add_argument("--pixels", action="store_true", help="optimise the pixels, not the multi-scale image")
    parser.add_argument("--fp32", action="store_true", help="no bf16 fast math, whatever the CPU")
    parser.add_argument("--coarse", type=int, nargs="*", default=[],
                        help="evaluations at smaller sizes first, coarsest first (each level half the next)")
    args = parser.parse_args()
    content_layer, style_layers = LAYER_SETS[args.layers]
    source = vgg.find_weights()
    deepest = max((content_layer, *style_layers), key=vgg.LAYERS.index)
    features = vgg.load_features(source, deepest)
    content = style_transfer.resize_to(images.to_tensor(images.load_sample("chelsea")), args.size)
    style = F.interpolate(artwork.make("swirls", size=512)[None], size=content.shape[-2:], mode="bilinear",
                          antialias=True)       # the tutorial needs both images the same size
    config = style_transfer.StyleConfig(size=args.size, content_layer=content_layer, style_layers=style_layers,
                                        layer_weights=(1.0,) * len(style_layers), tv_weight=0.0,
                                        pyramid_levels=1 if args.pixels else style_transfer.StyleConfig.pyramid_levels,
                                        fast_math=False if args.fp32 else None, coarse_steps=tuple(args.coarse))
    judge = style_transfer.Objective(vgg.FeatureExtractor(features, source.preprocessing), config, content, style,
                                     fast=False)

    def loss(image: torch.Tensor) -> float:
        with torch.no_grad():
            return judge(image.reshape(1, *image.shape[-3:]))["total"].item()

    print(f"CPU: {cpu_name()}; bf16 in hardware: {bool(cpu_flags() & {'avx512_bf16', 'amx_bf16'})}; "
          f"{torch.get_num_threads()} threads")
    print(f"weights: {source.kind}; layers: {args.layers}; {content.shape[-1]}x{content.shape[-2]} px; "
          f"ours: {'pixels' if args.pixels else f'{config.pyramid_levels}-level multi-scale image'}"
          f"{f', coarse-to-fine {args.coarse} evaluations first' if args.coarse else ''}, "
          f"bf16 fast math: {style_transfer.use_fast_math(config, content.device)}")
    model, content_losses, style_losses = style_reference.build(features, source.preprocessing, content, style,
                                                                (content_layer,), style_layers)
    start = time.perf_counter()
    reference = style_reference.run(model, content_losses, style_losses, content, args.reference_steps,
                                    config.content_weight, config.style_weight, clamp_in_closure=False)
    reference_seconds = time.perf_counter() - start
    target = loss(reference)
    print(f"reference: {args.reference_steps} L-BFGS evaluations in {reference_seconds:.1f} s, final loss {target:.4f}")

    extractor = vgg.load_extractor(source, deepest)
    for steps in range(5, 155, 5):
        run_config = style_transfer.StyleConfig(**{**config.__dict__, "steps": steps})
        start = time.perf_counter()
        *_, last = style_transfer.transfer(run_config, extractor, content[0], style[0])
        seconds = time.perf_counter() - start
        ours = loss(last.extras["image"])
        print(f"  ours, {steps} evaluations: {seconds:.1f} s, loss {ours:.4f}")
        if ours <= target:
            print(f"ours reaches the reference's loss in {seconds:.1f} s: {reference_seconds / seconds:.1f}x sooner "
                  f"(target 4x); final losses: reference {target:.4f}, ours {ours:.4f}")
            break
    else:
        print("ours did not reach the reference's loss within the budgets tried")
    OUT.mkdir(exist_ok=True)
    pair = [images.to_image(reference[0]), images.to_image(last.extras["image"])]
    canvas = Image.new("RGB", (pair[0].width * 2 + 8, pair[0].height), "white")
    canvas.paste(pair[0], (0, 0))
    canvas.paste(pair[1], (pair[0].width + 8, 0))
    name = f"style_transfer_{args.layers}{'_pixels' if args.pixels else ''}{'_fp32' if args.fp32 else ''}.png"
    canvas.save(OUT / name)
    print(f"side by side (reference | ours): {OUT / name}")


if __name__ == "__main__":
    main()
