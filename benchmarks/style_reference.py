"""A straightforward Gatys implementation, written the way the well-known PyTorch tutorial does it,
as the baseline for benchmarks/style_transfer_speed.py.

fp32, contiguous tensors, loss modules inserted after the chosen layers of a VGG19 cut after the
last of them, L-BFGS with its default settings (20 iterations per .step(), no line search), the
input clamped to [0, 1] inside the closure. Same weights, layers and loss definition as our engine.
"""

import torch
import torch.nn.functional as F
from torch import nn

from engine import vgg
from engine.style_transfer import gram_matrix


class ContentLoss(nn.Module):
    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.scale = 1.0 / self.target.pow(2).mean().item()      # relative error, as in the engine
        self.loss = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = F.mse_loss(x, self.target) * self.scale
        return x


class StyleLoss(nn.Module):
    def __init__(self, target_features: torch.Tensor) -> None:
        super().__init__()
        self.target = gram_matrix(target_features).detach()
        self.scale = 1.0 / self.target.pow(2).mean().item()
        self.loss = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = F.mse_loss(gram_matrix(x), self.target) * self.scale
        return x


def build(features: nn.Sequential, preprocessing: str, content: torch.Tensor, style: torch.Tensor,
          content_layers: tuple[str, ...], style_layers: tuple[str, ...]):
    """The tutorial's model: preprocessing, VGG layers and loss modules in one Sequential."""
    model = nn.Sequential(vgg.Preprocess(preprocessing))
    content_losses, style_losses = [], []
    last = max(vgg.LAYERS.index(name) for name in (*content_layers, *style_layers))
    for name, layer in zip(vgg.LAYERS[: last + 1], features, strict=False):
        model.add_module(name, layer)
        if name in content_layers:
            module = ContentLoss(model(content))
            model.add_module(f"content_{name}", module)
            content_losses.append(module)
        if name in style_layers:
            module = StyleLoss(model(style))
            model.add_module(f"style_{name}", module)
            style_losses.append(module)
    return model, content_losses, style_losses


def run(model, content_losses, style_losses, start: torch.Tensor, evaluations: int,
        content_weight: float, style_weight: float, clamp_in_closure: bool = True) -> torch.Tensor:
    image = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])
    count = [0]

    def closure() -> torch.Tensor:
        if clamp_in_closure:
            with torch.no_grad():
                image.clamp_(0, 1)
        optimizer.zero_grad()
        model(image)
        loss = content_weight * sum(m.loss for m in content_losses) + style_weight * sum(m.loss for m in style_losses)
        loss.backward()
        count[0] += 1
        return loss

    while count[0] < evaluations:
        optimizer.step(closure)
        if not clamp_in_closure:
            with torch.no_grad():
                image.clamp_(0, 1)
    with torch.no_grad():
        image.clamp_(0, 1)
    return image.detach()
