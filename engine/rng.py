"""Randomness a run owns: no engine touches torch's global generator or Python's `random`.

Streamlit runs every learner's session in a thread of one process, so a global seed set by one
run would change another run that draws at the same time. Each run therefore makes its own
generators from its config's seed (`RunRandom`) and initialises its parameters from them
(`init_parameters`), drawing exactly what PyTorch's own `reset_parameters` draws: a model built
after `torch.manual_seed(s)` and one initialised here from a generator seeded `s` are equal.
"""

import math

import torch
from torch import nn
from torch.nn import init


class RunRandom:
    """One run's random streams: `cpu` for data order, noise made on the host and parameter
    initialisation (parameters are initialised on the CPU, then moved); `device` for draws made
    where the tensors live (the VAE's noise, a style transfer's starting image)."""

    def __init__(self, seed: int, device: torch.device | str = "cpu") -> None:
        device = torch.device(device)
        self.seed = seed
        self.cpu = torch.Generator().manual_seed(seed)
        self.device = self.cpu if device.type == "cpu" else torch.Generator(device=device).manual_seed(seed)


def _fan_in(weight: torch.Tensor) -> int:
    return init._calculate_fan_in_and_fan_out(weight)[0]


def _init_weight_and_bias(module: nn.Module, generator: torch.Generator) -> None:
    """What Linear and every ConvNd / ConvTransposeNd draw in `reset_parameters`."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
    if module.bias is not None:
        fan_in = _fan_in(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound, generator=generator)


def _init_recurrent(module: nn.RNNBase, generator: torch.Generator) -> None:
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound, generator=generator)


def _init_norm(module: nn.Module, generator: torch.Generator) -> None:
    if isinstance(module, nn.modules.batchnorm._NormBase):
        module.reset_running_stats()
    if getattr(module, "weight", None) is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)


_RULES = (
    ((nn.Linear, nn.modules.conv._ConvNd), _init_weight_and_bias),
    ((nn.RNNBase,), _init_recurrent),
    ((nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm), _init_norm),
    ((nn.Embedding,), lambda module, generator: init.normal_(module.weight, generator=generator)),
)


@torch.no_grad()
def init_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Initialise every parameter of `model` from `generator`, module by module in registration
    order, as PyTorch's defaults would (BatchNorm's running statistics are reset too). A module
    with parameters or buffers registered on itself (not on its children) and a method
    `init_own_parameters(generator)` sets those itself; any other module with parameters or
    buffers of its own and no rule here is an error, so nothing keeps a value from elsewhere."""
    for module in model.modules():
        own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        if not own:
            continue
        if hasattr(module, "init_own_parameters"):
            module.init_own_parameters(generator)
            continue
        for types, rule in _RULES:
            if isinstance(module, types):
                rule(module, generator)
                break
        else:
            raise TypeError(f"init_parameters: no rule for {type(module).__name__}; give it init_own_parameters()")
    return model


def build(factory, generator: torch.Generator, device: torch.device | str = "cpu") -> nn.Module:
    """`factory()` built without drawing anything (on the meta device), then given memory on the
    CPU, initialised from `generator` and moved to `device`. Nothing touches the global generator."""
    with torch.device("meta"):
        model = factory()
    model = model.to_empty(device="cpu")
    return init_parameters(model, generator).to(device)
