"""Audit of shared objects, for the multi-user tests: with PTLAB_AUDIT_FILE set, every object a page
shares between users through st.cache_resource is fingerprinted when it is made, and after every
script run all of them are fingerprinted again and one JSON line is appended to that file:
{"objects": how many, "changed": [names whose content is no longer what it was]}.
Off (and free) unless the variable is set."""

import json
import os
import threading
import time
import weakref

ENV = "PTLAB_AUDIT_FILE"
_shared: dict[str, tuple[object, str]] = {}       # process-wide on purpose: it is about shared objects
_lock = threading.Lock()


def enabled() -> bool:
    return bool(os.environ.get(ENV))


_registry: list = []                              # every shared object (weakly where it can be)


def shared(name: str, obj):
    """Call on what a cache_resource function returns; returns it unchanged."""
    with _lock:
        try:
            _registry.append(weakref.ref(obj))
        except TypeError:                         # a plain dict or tuple: kept (the cache keeps it anyway)
            _registry.append(lambda obj=obj: obj)
    if enabled():
        from engine.fingerprint import fingerprint

        with _lock:
            _shared[f"{name}#{id(obj)}"] = (obj, fingerprint(obj))
    return obj


def shared_objects() -> list:
    """The objects shared between users that are still alive (for `ui.session_memory`)."""
    with _lock:
        _registry[:] = [ref for ref in _registry if ref() is not None]
        return [ref() for ref in _registry]


def verify() -> None:
    """Fingerprint every shared object again and append the verdict to the audit file."""
    if not enabled():
        return
    from engine.fingerprint import fingerprint

    with _lock:
        entries = list(_shared.items())
    changed = [name for name, (obj, before) in entries if fingerprint(obj) != before]
    line = json.dumps({"time": time.time(), "objects": sorted(name.split("#")[0] for name, _ in entries),
                       "changed": changed})
    with _lock, open(os.environ[ENV], "a", encoding="utf-8") as log:
        log.write(line + "\n")
