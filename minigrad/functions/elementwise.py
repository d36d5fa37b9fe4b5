"""Element-wise functions. Each derivative is written with ops that are
themselves differentiable, so second derivatives come for free."""
import math

import numpy as np

from minigrad import backend
from minigrad.functions.arithmetic import sum_to
from minigrad.tensor import Function, unwrap


class Exp(Function):
    def forward(self, x):
        return backend.get_array_module(x).exp(x)

    def backward(self, gy, x):
        return gy * self.output_like(gy)  # d e^x = e^x


class Log(Function):
    def forward(self, x):
        return backend.get_array_module(x).log(x)

    def backward(self, gy, x):
        return gy / x


class Sqrt(Function):
    def forward(self, x):
        return backend.get_array_module(x).sqrt(x)

    def backward(self, gy, x):
        return gy * 0.5 / self.output_like(gy)


class Tanh(Function):
    def forward(self, x):
        return backend.get_array_module(x).tanh(x)

    def backward(self, gy, x):
        y = self.output_like(gy)
        return gy * (1 - y * y)


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x), evaluated without overflow for large |x|; σ' = σ(1 - σ)."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, gy, x):
        y = self.output_like(gy)
        return gy * y * (1 - y)


class ReLU(Function):
    def forward(self, x):
        return backend.get_array_module(x).maximum(x, 0)

    def backward(self, gy, x):
        return gy * (unwrap(x) > 0)


class Erf(Function):
    """Gauss error function; erf'(x) = 2/√π · e^(-x²)."""

    def forward(self, x):
        return backend.erf(x)

    def backward(self, gy, x):
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class Clip(Function):
    """min(max(x, lo), hi); the gradient passes where lo <= x <= hi (as in torch.clamp)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return backend.get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy, x):
        x = unwrap(x)
        inside = np.True_
        if self.lo is not None:
            inside = inside & (x >= self.lo)
        if self.hi is not None:
            inside = inside & (x <= self.hi)
        return gy * inside


class Where(Function):
    """cond ? a : b, element-wise with broadcasting; ``cond`` is a constant mask."""

    def forward(self, cond, a, b):
        return _where_array(cond, a, b)

    def backward(self, gy, cond, a, b):
        c = unwrap(cond)
        return None, sum_to(where(c, gy, 0.0), a.shape), sum_to(where(c, 0.0, gy), b.shape)


def _where_array(cond, a, b):
    for x in (a, b, cond):
        if backend.is_cupy_array(x):
            return backend.get_array_module(x).where(cond, a, b)
    return np.where(cond, a, b)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy, x):
        return gy.astype(x.dtype)


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, gy, x):
        return to_device(gy, backend.device_of(unwrap(x)))


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def tanh(x):
    return Tanh()(x)


def sigmoid(x):
    return Sigmoid()(x)


def relu(x):
    return ReLU()(x)


def erf(x):
    return Erf()(x)


def gelu(x, approximate="none"):
    """GELU (Hendrycks & Gimpel 2016): x·Φ(x) with Φ the standard normal CDF.

    approximate="none": Φ(x) = (1 + erf(x/√2)) / 2, PyTorch's default.
    approximate="tanh": Φ(x) ≈ (1 + tanh(√(2/π)(x + 0.044715 x³))) / 2.
    """
    if approximate == "none":
        return x * (0.5 * (1 + erf(x * (1 / math.sqrt(2)))))
    if approximate == "tanh":
        return x * (0.5 * (1 + tanh((x + 0.044715 * x ** 3) * math.sqrt(2 / math.pi))))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def clip(x, lo=None, hi=None):
    if lo is None and hi is None:
        raise ValueError("clip: at least one of lo, hi must be given")
    return Clip(lo, hi)(x)


def where(cond, a, b):
    return Where()(unwrap(cond), a, b)


def cast(x, dtype):
    return x if x.dtype == np.dtype(dtype) else Cast(dtype)(x)


def to_device(x, device):
    return ToDevice(device)(x)
