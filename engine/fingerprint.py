"""A content hash of a (nested) object of tensors: used to prove that objects shared between users
(cached datasets, the frozen VGG) are never changed by anyone's training."""

import dataclasses
import hashlib

import numpy as np
import torch
from torch import nn


def fingerprint(obj: object) -> str:
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def _feed(digest, obj: object) -> None:
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu().contiguous()
        digest.update(f"tensor{tensor.dtype}{tuple(tensor.shape)}{obj.requires_grad}".encode())
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.view(torch.int16)
        digest.update(tensor.numpy().tobytes())
    elif isinstance(obj, nn.Module):
        digest.update(f"module{type(obj).__name__}{obj.training}".encode())
        for name, module in obj.named_modules():          # a stateless layer swapped in place (pooling) counts
            digest.update(f"{name}{type(module).__name__}".encode())
        for name, parameter in obj.named_parameters():
            digest.update(f"{name}{parameter.requires_grad}".encode())
        _feed(digest, obj.state_dict())
    elif isinstance(obj, np.ndarray):
        digest.update(f"array{obj.dtype}{obj.shape}".encode())
        digest.update(np.ascontiguousarray(obj).tobytes())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        digest.update(type(obj).__name__.encode())
        for field in dataclasses.fields(obj):
            digest.update(field.name.encode())
            _feed(digest, getattr(obj, field.name))
    elif isinstance(obj, dict):
        for key in sorted(obj, key=repr):
            digest.update(repr(key).encode())
            _feed(digest, obj[key])
    elif isinstance(obj, list | tuple):
        digest.update(f"{type(obj).__name__}{len(obj)}".encode())
        for item in obj:
            _feed(digest, item)
    else:
        digest.update(repr(obj).encode())
