"""``save``/``load``: state dicts to ``.npz`` files, with no pickled code.

A state dict is a tree of dicts and lists whose leaves are arrays/Tensors,
numbers, strings, booleans or None. Arrays go into the ``.npz`` archive under
a path-like key; everything else goes into one JSON document stored beside
them, so ``load`` never runs ``pickle`` (``np.load(allow_pickle=False)``).
The file is written to a temporary name and renamed into place, so a crash
mid-write never leaves a half-written checkpoint.
"""
import io
import json
import os
import tempfile

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor

_META = "__minigrad_tree__"


def _pack(obj, arrays, path):
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray) or backend.is_cupy_array(obj):
        if obj.dtype.kind not in "biufc":  # load() reads without pickle, so refuse now, not then
            raise TypeError(f"save: cannot store an array of dtype {obj.dtype} at {path or '/'} (numbers only)")
        key = f"a{len(arrays)}"
        arrays[key] = backend.to_numpy(obj)
        return {"array": key}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} at {path or '/'}")
        return {"dict": [[k, _pack(v, arrays, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_pack(v, arrays, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or '/'} (no pickled objects)")


def _unpack(node, archive):
    if "array" in node:
        return Tensor(archive[node["array"]])
    if "dict" in node:
        return {k: _unpack(v, archive) for k, v in node["dict"]}
    if "list" in node:
        return [_unpack(v, archive) for v in node["list"]]
    if "tuple" in node:
        return tuple(_unpack(v, archive) for v in node["tuple"])
    return node["value"]


def save(obj, path):
    """Write ``obj`` (a state dict) to ``path`` atomically."""
    arrays = {}
    tree = _pack(obj, arrays, "")
    arrays[_META] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read what ``save`` wrote; arrays come back as CPU Tensors."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META not in archive:
                raise ValueError(f"load: {path} is not a minigrad checkpoint (no {_META} entry)")
            tree = json.loads(archive[_META].tobytes().decode())
            return _unpack(tree, archive)
    except OSError:
        raise  # a missing or unreadable file keeps its own error, which names the path
    except Exception as error:  # zip, npy-header and JSON errors all mean the same thing here
        if str(error).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is truncated or corrupted ({type(error).__name__}: {error})") from error
