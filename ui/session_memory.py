"""What a learner's session keeps, in bytes: the tensors, arrays, images and bytes its Session State
reaches (run records, their models and curves, uploads, a paused run's generator with its optimizer),
each storage counted once, and nothing the server shares between users (the cached datasets and
VGG, registered through `ui.audit.shared`). Used by the hosted server's per-session cap
(`ui.sessions.keep_under_cap`), by the table in docs/hosting.md (`benchmarks/session_memory.py`) and by tests.
This module never imports streamlit; torch only when a tensor is met."""

import dataclasses
import sys
import types
from collections.abc import Iterable

_MAX_DEPTH = 40


def _tensor_bytes(tensor) -> tuple[int, int]:
    """(the storage's identity, its bytes) of a torch tensor."""
    storage = tensor.untyped_storage()
    return storage.data_ptr() or id(storage), storage.nbytes()


def shared_storages(objects: Iterable[object]) -> set[int]:
    """The storage identities of every tensor in `objects` (what the server shares)."""
    found: dict[int, int] = {}
    for obj in objects:
        _walk(obj, found, set(), set(), 0)
    return set(found)


def nbytes(obj: object, skip: set[int] | None = None) -> int:
    """Bytes `obj` holds in tensors, arrays, images and byte strings, storages counted once, those
    whose identity is in `skip` (shared ones) not at all."""
    found: dict[int, int] = {}
    _walk(obj, found, set(), skip or set(), 0)
    return sum(found.values())


def _walk(obj: object, found: dict[int, int], seen: set[int], skip: set[int], depth: int) -> None:
    if obj is None or isinstance(obj, int | float | bool | complex | str | type | types.ModuleType
                                 | types.FunctionType | types.BuiltinFunctionType):
        return
    if id(obj) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(obj))
    torch = sys.modules.get("torch")
    numpy = sys.modules.get("numpy")
    if torch is not None and isinstance(obj, torch.Tensor):
        if obj.is_sparse or obj.device.type == "meta":
            return
        key, size = _tensor_bytes(obj)
        if key not in skip:
            found[key] = max(found.get(key, 0), size)
        if obj.grad is not None:
            _walk(obj.grad, found, seen, skip, depth + 1)
        return
    if torch is not None and isinstance(obj, torch.nn.Module):
        for tensor in [*obj.parameters(), *obj.buffers()]:
            _walk(tensor, found, seen, skip, depth + 1)
        return
    if torch is not None and isinstance(obj, torch.optim.Optimizer):
        _walk(obj.state, found, seen, skip, depth + 1)
        return
    if numpy is not None and isinstance(obj, numpy.ndarray):
        base = obj if obj.base is None else obj.base
        key = id(base)
        if key not in skip:
            found[key] = max(found.get(key, 0), getattr(base, "nbytes", obj.nbytes))
        return
    if isinstance(obj, bytes | bytearray | memoryview):
        found[id(obj)] = len(obj)
        return
    if type(obj).__module__.startswith("PIL.") and hasattr(obj, "size") and hasattr(obj, "getbands"):
        width, height = obj.size
        found[id(obj)] = width * height * len(obj.getbands())
        return
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            _walk(key, found, seen, skip, depth + 1)
            _walk(value, found, seen, skip, depth + 1)
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for item in list(obj):
            _walk(item, found, seen, skip, depth + 1)
        return
    if isinstance(obj, types.GeneratorType):           # a paused run: its frame holds model and optimizer
        frame = obj.gi_frame
        if frame is not None:
            _walk(dict(frame.f_locals), found, seen, skip, depth + 1)
        inner = obj.gi_yieldfrom
        if inner is not None:
            _walk(inner, found, seen, skip, depth + 1)
        return
    if dataclasses.is_dataclass(obj):
        for field in dataclasses.fields(obj):
            _walk(getattr(obj, field.name, None), found, seen, skip, depth + 1)
        return
    if isinstance(obj, types.MethodType | types.CellType):
        return
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        _walk(attributes, found, seen, skip, depth + 1)
