"""Ways to make a new leaf Tensor: from data, or filled with zeros, ones, noise or a range."""
import numpy as np

from minigrad import backend, config
from minigrad.tensor import Tensor, check_dtype


def _infer_dtype(data, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)) or backend.is_cupy_array(data):
        return data.dtype
    probe = np.asarray(data)
    return config.default_dtype if probe.dtype == np.float64 else probe.dtype


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new leaf Tensor. Python floats get the default dtype; NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.array_module(device)
    array = backend.to_device(data, device) if hasattr(data, "__array__") or backend.is_cupy_array(data) else data
    array = xp.array(array, dtype=_infer_dtype(data, dtype), copy=True)
    check_dtype(array.dtype, requires_grad)
    return Tensor(array, requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=None, device="cpu", requires_grad=False):
    xp = backend.array_module(device)
    return Tensor(xp.zeros(_shape(shape), dtype=dtype or config.default_dtype), requires_grad)


def ones(*shape, dtype=None, device="cpu", requires_grad=False):
    xp = backend.array_module(device)
    return Tensor(xp.ones(_shape(shape), dtype=dtype or config.default_dtype), requires_grad)


def randn(*shape, dtype=None, device="cpu", requires_grad=False):
    """Standard normal samples from the stream that ``manual_seed`` resets."""
    values = config.rng.standard_normal(_shape(shape)).astype(dtype or config.default_dtype)
    return Tensor(backend.to_device(values, device), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device="cpu"):
    xp = backend.array_module(device)
    return Tensor(xp.arange(start, stop, step, dtype=dtype))
