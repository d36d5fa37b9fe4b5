"""Global switches: gradient recording, default dtype and the random stream.

``no_grad`` is a context manager that flips one flag (DeZero's ``Config`` and
``using_config`` work the same way): while it is off, ops compute values but
record no graph.
"""
import contextlib

import numpy as np

grad_enabled = True
default_dtype = np.dtype(np.float32)
rng = np.random.default_rng()


@contextlib.contextmanager
def _grad_mode(enabled):
    global grad_enabled
    previous, grad_enabled = grad_enabled, enabled
    try:
        yield
    finally:
        grad_enabled = previous


def no_grad():
    """Context: compute without recording a graph (inference, optimizer updates)."""
    return _grad_mode(False)


def enable_grad():
    """Context: record graphs again inside a ``no_grad`` block."""
    return _grad_mode(True)


def is_grad_enabled():
    return grad_enabled


def set_default_dtype(dtype):
    """dtype given to tensors built from Python floats and to new parameters."""
    global default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dtype}")
    default_dtype = dtype


def get_default_dtype():
    return default_dtype


def manual_seed(seed):
    """Reseed the stream behind randn, parameter initialisation and dropout."""
    global rng
    rng = np.random.default_rng(seed)
    return rng
