"""The one place that knows about NumPy versus CuPy.

Every array in minigrad lives either on the host (a ``numpy.ndarray``, device
``"cpu"``) or on an NVIDIA GPU (a ``cupy.ndarray``, device ``"cuda"``). Op code
never imports cupy; it asks ``xp = get_array_module(x)`` and writes
``xp.exp(x)``, which is NumPy or CuPy as the data requires (the idea comes from
Chainer/CuPy's own ``get_array_module``).

CuPy is imported lazily, the first time a GPU is asked for, so ``import
minigrad`` works on machines without it.
"""
import math

import numpy as np

DEVICES = ("cpu", "cuda")


def _import_cupy():
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(
            "device 'cuda' needs CuPy: pip install 'minigrad[gpu]' (cupy-cuda12x)"
        ) from err
    return cupy


def cupy_available():
    """True when CuPy imports *and* can see at least one CUDA device."""
    try:
        cupy = _import_cupy()
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device: all mean "no GPU here"
        return False


def is_cupy_array(x):
    return type(x).__module__.startswith("cupy")


def get_array_module(x):
    """numpy or cupy, whichever holds ``x`` (a raw array or a Tensor)."""
    if type(x) is np.ndarray:  # the common case, checked first because it is hot
        return np
    x = getattr(x, "data", x)
    if is_cupy_array(x):
        return _import_cupy()
    return np


def check_device(device):
    """Normalise a device string; "cuda:0" is accepted as "cuda"."""
    name = str(device).split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    return name


def array_module(device):
    """The array module that allocates on ``device``."""
    if check_device(device) == "cuda":
        cupy = _import_cupy()  # raises with the install hint when CuPy is missing
        if not cupy_available():
            raise RuntimeError("device 'cuda' requested but CuPy sees no CUDA device")
        return cupy
    return np


def device_of(x):
    return "cuda" if is_cupy_array(x) else "cpu"


def to_device(x, device):
    """Copy (only if needed) the raw array ``x`` onto ``device``."""
    device = check_device(device)
    if device_of(x) == device:
        return x
    if device == "cpu":
        return x.get()
    return array_module("cuda").asarray(x)


def to_numpy(x):
    """A host ``numpy.ndarray`` for any raw array."""
    return x.get() if is_cupy_array(x) else np.asarray(x)


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices all add up (NumPy's ``add.at``)."""
    if is_cupy_array(target):
        import cupyx

        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)
    return target


def erf(x):
    """The Gauss error function of an array; NumPy itself has none."""
    if is_cupy_array(x):
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:  # no SciPy: the standard library's erf, element by element
        return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)
    return scipy_erf(x)
