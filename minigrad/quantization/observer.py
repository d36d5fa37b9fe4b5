"""Observers: watch the values a tensor takes, then choose a scale and zero point for it.

The formulas are PyTorch's (``torch.ao.quantization.observer``), computed in
float32 as it does. With x_min <= 0 <= x_max forced (0 must be exact, Jacob et
al. 2018, section 2.1: zero padding and ReLU zeros must quantize exactly):

    affine:     S = (x_max - x_min) / (Q_max - Q_min)            Z = Q_min - round(x_min / S), clamped
    symmetric:  S = max(-x_min, x_max) / ((Q_max - Q_min) / 2)   Z = 0 (signed), 128 (unsigned)
    both:       S = max(S, eps)  (eps = float32 machine epsilon: a constant tensor still gets a scale)

``MinMaxObserver`` keeps the running min and max of everything it saw;
``MovingAverageMinMaxObserver`` an exponential moving average of each batch's
min and max, m <- m + c (m_batch - m) (Jacob et al. 2018, section 3: "smoothed
by exponential moving averages", for activations during training).

dtype: "quint8" (unsigned, 0..255) or "qint8" (signed, -128..127), also spelled
numpy.uint8 / numpy.int8. ``reduce_range`` drops one bit (0..127, -64..63), as
PyTorch does for x86 kernels that would otherwise overflow. Custom
quant_min/quant_max (e.g. 0..15 for 4 bits) must include 0.
"""
import warnings

import numpy as np

from minigrad import backend
from minigrad.nn.module import Module
from minigrad.tensor import Tensor

QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric")
_DTYPES = {"quint8": "quint8", "uint8": "quint8", "qint8": "qint8", "int8": "qint8"}
_DEFAULT_RANGE = {("quint8", False): (0, 255), ("quint8", True): (0, 127),
                  ("qint8", False): (-128, 127), ("qint8", True): (-64, 63)}


def _dtype_name(dtype):
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"observer: dtype must be 'quint8' or 'qint8' (numpy.uint8 / numpy.int8), got {dtype!r}")
    return _DTYPES[name]


class ObserverBase(Module):
    """Shared setup and the scale/zero-point formulas; subclasses define ``forward`` (and return x)."""

    def __init__(self, dtype="quint8", qscheme="per_tensor_affine", reduce_range=False,
                 quant_min=None, quant_max=None, eps=float(np.finfo(np.float32).eps)):
        super().__init__()
        name = type(self).__name__
        if qscheme not in QSCHEMES:
            raise ValueError(f"{name}: qscheme must be one of {QSCHEMES}, got {qscheme!r}")
        self.dtype, self.qscheme, self.reduce_range = _dtype_name(dtype), qscheme, reduce_range
        self.eps = np.float32(eps)
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            if not quant_min <= 0 <= quant_max:
                raise ValueError(f"{name}: the quantization range [{quant_min}, {quant_max}] must include 0")
            if quant_min >= quant_max:
                raise ValueError(f"{name}: quant_min ({quant_min}) must be less than quant_max ({quant_max})")
            if self.dtype == "qint8" and quant_max - quant_min + 1 > 256:
                raise ValueError(f"{name}: [{quant_min}, {quant_max}] is wider than 8 bits")
            self.quant_min, self.quant_max = ((quant_min // 2, quant_max // 2) if reduce_range
                                              else (quant_min, quant_max))
        else:
            self.quant_min, self.quant_max = _DEFAULT_RANGE[(self.dtype, bool(reduce_range))]
        if qscheme == "per_tensor_symmetric" and reduce_range and self.dtype == "quint8":
            raise ValueError(f"{name}: cannot reduce range for symmetric quantization with quint8")
        self.reset_min_max_vals()

    def reset_min_max_vals(self):
        self.min_val, self.max_val = np.float32(np.inf), np.float32(-np.inf)

    def calculate_qparams(self):
        """(scale, zero_point) as 1-element Tensors: float32 and integer, PyTorch's values and dtypes."""
        return _calculate_qparams(self, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


def _batch_min_max(x):
    data = x.data if isinstance(x, Tensor) else x
    if data.size == 0:
        return None
    data = backend.to_numpy(data).astype(np.float32, copy=False)
    return np.float32(data.min()), np.float32(data.max())


class MinMaxObserver(ObserverBase):
    """Running min and max of every tensor seen (PyTorch's ``MinMaxObserver``)."""

    def forward(self, x):
        seen = _batch_min_max(x)
        if seen is not None:
            self.min_val = np.minimum(self.min_val, seen[0])
            self.max_val = np.maximum(self.max_val, seen[1])
        return x


class MovingAverageMinMaxObserver(ObserverBase):
    """Exponential moving average of per-batch min and max; the first batch sets them."""

    def __init__(self, averaging_constant=0.01, dtype="quint8", qscheme="per_tensor_affine",
                 reduce_range=False, quant_min=None, quant_max=None, eps=float(np.finfo(np.float32).eps)):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.averaging_constant = averaging_constant

    def forward(self, x):
        seen = _batch_min_max(x)
        if seen is None:
            return x
        if self.min_val == np.inf and self.max_val == -np.inf:
            self.min_val, self.max_val = seen
        else:
            c = np.float32(self.averaging_constant)
            self.min_val = self.min_val + c * (seen[0] - self.min_val)
            self.max_val = self.max_val + c * (seen[1] - self.max_val)
        return x


def _calculate_qparams(obs, min_val, max_val):
    if min_val == np.inf and max_val == -np.inf:
        warnings.warn("must run observer before calling calculate_qparams. Returning default values.", stacklevel=3)
        return Tensor(np.float32([1.0])), Tensor(np.int64([0]))
    if min_val > max_val:
        raise ValueError(f"{type(obs).__name__}: min {min_val} should be less than max {max_val}")
    qmin, qmax = obs.quant_min, obs.quant_max
    min_neg = np.minimum(min_val, np.float32(0))
    max_pos = np.maximum(max_val, np.float32(0))
    if obs.qscheme == "per_tensor_symmetric":
        max_pos = np.maximum(-min_neg, max_pos)
        scale = np.maximum(max_pos / np.float32((qmax - qmin) / 2), obs.eps)
        zero_point = np.int64(0)
        if obs.dtype == "quint8":
            zero_point = np.int64((qmin + qmax) // 2 if obs.has_customized_qrange else 128)
    else:
        scale = np.maximum((max_pos - min_neg) / np.float32(qmax - qmin), obs.eps)
        zero_point = np.int32(qmin) - np.round(min_neg / scale).astype(np.int32)   # round: half to even
        zero_point = np.clip(zero_point, qmin, qmax).astype(np.int32)
    return Tensor(np.array([scale], dtype=np.float32)), Tensor(np.array([zero_point]))
