"""Painterly style images made by code, so the style-transfer page has styles of its own, and the
page's sample pictures (these paintings and the bundled photos and textures) by kind and name.

Each painting function returns a (3, size, size) float tensor in [0, 1], the same for the same seed.
"""

import math

import torch
import torch.nn.functional as F

from engine import images

PALETTES = {   # RGB 0-255
    "night": [(20, 33, 82), (41, 72, 150), (86, 136, 199), (242, 208, 99), (230, 164, 40), (248, 236, 190)],
    "ember": [(58, 12, 25), (145, 30, 38), (222, 85, 45), (245, 160, 60), (250, 220, 140), (40, 40, 60)],
    "bauhaus": [(230, 57, 70), (29, 53, 87), (69, 123, 157), (241, 196, 15), (244, 241, 222), (20, 20, 20)],
    "lagoon": [(8, 76, 97), (23, 126, 137), (219, 58, 52), (255, 200, 87), (50, 48, 49), (240, 240, 230)],
}
ARTWORKS = ("swirls", "mosaic", "geometric")
SAMPLES = {"photo": images.PHOTOS, "texture": images.TEXTURES, "artwork": ARTWORKS}   # kind -> names


def _palette(name: str) -> torch.Tensor:
    return torch.tensor(PALETTES[name], dtype=torch.float32) / 255.0            # (K, 3)


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    coords = torch.linspace(-1.0, 1.0, size)
    return torch.meshgrid(coords, coords, indexing="xy")                         # x, y: (size, size)


def swirls(size: int = 384, seed: int = 0, palette: str = "night") -> torch.Tensor:
    """Brush strokes following a field of vortices: white noise smeared along the flow lines
    (line integral convolution), coloured by a palette that drifts with the flow direction."""
    generator = torch.Generator().manual_seed(seed)
    x, y = _grid(size)
    vx, vy = torch.zeros_like(x), torch.zeros_like(y)
    for _ in range(9):                                   # each vortex adds a rotating flow that fades out
        cx, cy = torch.rand(2, generator=generator) * 2.2 - 1.1
        spin = (torch.rand(1, generator=generator).item() + 0.5) * 18 * (1 if torch.rand(1, generator=generator) > 0.5 else -1)  # noqa: E501
        dx, dy = x - cx, y - cy
        fade = torch.exp(-(dx**2 + dy**2) / 0.08)
        vx, vy = vx - spin * dy * fade, vy + spin * dx * fade
    vx, vy = vx + 0.4, vy + 0.3 * torch.sin(4 * x)       # a gentle wind so no region is still
    norm = torch.sqrt(vx**2 + vy**2).clamp_min(1e-6)
    step = 1.5 / size
    noise = (torch.rand(1, 1, size // 3, size // 3, generator=generator) > 0.6).float()
    noise = F.interpolate(noise, size=(size, size), mode="nearest")
    strokes = torch.zeros(size, size)
    for direction in (1.0, -1.0):                        # integrate both ways along the stream line
        px, py = x.clone(), y.clone()
        for _ in range(24):
            px, py = px + direction * step * vx / norm, py + direction * step * vy / norm
            sample = torch.stack([px, py], dim=-1).unsqueeze(0)
            strokes += F.grid_sample(noise, sample, align_corners=True, padding_mode="reflection")[0, 0]
    strokes = strokes / strokes.max().clamp_min(1e-6)
    colours = _palette(palette)
    colours = torch.cat([colours, colours[:1]])         # cyclic, so the hue wrap-around has no seam
    hue = (torch.atan2(vy, vx) / (2 * math.pi) + 0.5 + 0.15 * y) % 1.0          # 0..1 across the palette
    position = hue * (len(colours) - 1)
    low = position.floor().long().clamp(0, len(colours) - 2)
    mix = (position - low).unsqueeze(-1)
    base = colours[low] * (1 - mix) + colours[low + 1] * mix                     # (size, size, 3)
    image = base * (0.55 + 0.6 * strokes.unsqueeze(-1))
    return image.clamp(0, 1).permute(2, 0, 1)


def mosaic(size: int = 384, seed: int = 0, palette: str = "lagoon", tiles: int = 160) -> torch.Tensor:
    """Voronoi tiles in palette colours, separated by dark grout, with a little shading per tile."""
    generator = torch.Generator().manual_seed(seed)
    x, y = _grid(size)
    seeds = torch.rand(tiles, 2, generator=generator) * 2 - 1
    pixels = torch.stack([x.flatten(), y.flatten()], dim=1)                      # (P, 2)
    distances = torch.cdist(pixels, seeds)                                       # (P, tiles)
    nearest, index = distances.topk(2, largest=False)
    grout = (nearest[:, 1] - nearest[:, 0]) < 6.0 / size                         # near a tile border
    colours = _palette(palette)[torch.randint(len(PALETTES[palette]), (tiles,), generator=generator)]
    shade = 0.8 + 0.4 * torch.rand(tiles, 1, generator=generator)
    image = (colours * shade)[index[:, 0]]
    image[grout] = torch.tensor([0.12, 0.1, 0.1])
    return image.reshape(size, size, 3).clamp(0, 1).permute(2, 0, 1)


def geometric(size: int = 384, seed: int = 0, palette: str = "bauhaus", shapes: int = 28) -> torch.Tensor:
    """Overlapping circles, rotated bars and triangles in a bold palette, on a paper-coloured ground."""
    generator = torch.Generator().manual_seed(seed)
    x, y = _grid(size)
    colours = _palette(palette)
    image = torch.ones(size, size, 3) * torch.tensor([0.95, 0.93, 0.87])
    for _ in range(shapes):
        kind = torch.randint(3, (1,), generator=generator).item()
        cx, cy, angle, scale = torch.rand(4, generator=generator).tolist()
        cx, cy, angle, scale = cx * 2 - 1, cy * 2 - 1, angle * math.pi, 0.08 + 0.35 * scale
        u = (x - cx) * math.cos(angle) + (y - cy) * math.sin(angle)              # shape-aligned coordinates
        v = -(x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)
        if kind == 0:
            mask = u**2 + v**2 < scale**2
        elif kind == 1:
            mask = (u.abs() < scale * 1.6) & (v.abs() < scale * 0.18)
        else:
            mask = (v > -scale * 0.6) & (v < scale * 0.9 - 1.7 * u.abs())
        colour = colours[torch.randint(len(colours), (1,), generator=generator).item()]
        image[mask] = colour
        outline = mask & ~F.max_pool2d((~mask).float()[None, None], 5, 1, 2)[0, 0].eq(0)
        image[outline] = torch.tensor([0.08, 0.08, 0.08])
    return image.clamp(0, 1).permute(2, 0, 1)


def make(name: str, size: int = 384, seed: int = 0) -> torch.Tensor:
    """One of ARTWORKS by name."""
    return {"swirls": swirls, "mosaic": mosaic, "geometric": geometric}[name](size=size, seed=seed)


def sample_image(kind: str, name: str) -> torch.Tensor:
    """One of SAMPLES as (3, H, W) in [0, 1]: a painting made at 384 px, or a bundled photo or texture
    scaled to at most 512 px on its long side (the optimisation resizes it to the run's size)."""
    if kind == "artwork":
        return make(name, size=384)
    return images.to_tensor(images.fit_within(images.load_sample(name), 512))
