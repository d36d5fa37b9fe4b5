"""Element-wise functions. Each derivative is written with ops that are
themselves differentiable, so second derivatives come for free."""
import math

import numpy as np

from minigrad import backend, config
from minigrad.functions.arithmetic import sum_to
from minigrad.tensor import Function, ShapeError, Tensor, unwrap


def _floating(x):
    """Integer and boolean inputs give results in the default float dtype, as in torch (exp of an int64 tensor
    is float32), not NumPy's float64."""
    return x if x.dtype.kind in "fc" else x.astype(config.default_dtype)


class Exp(Function):
    def forward(self, x):
        return backend.get_array_module(x).exp(_floating(x))

    def backward(self, gy, x):
        return gy * self.output_like(gy)  # d e^x = e^x


class Log(Function):
    def forward(self, x):
        return backend.get_array_module(x).log(_floating(x))

    def backward(self, gy, x):
        return gy / x


class Sqrt(Function):
    def forward(self, x):
        return backend.get_array_module(x).sqrt(_floating(x))

    def backward(self, gy, x):
        return gy * 0.5 / self.output_like(gy)


class Tanh(Function):
    def forward(self, x):
        return backend.get_array_module(x).tanh(_floating(x))

    def backward(self, gy, x):
        y = self.output_like(gy)
        return gy * (1 - y * y)


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x), evaluated without overflow for large |x|; σ' = σ(1 - σ)."""

    def forward(self, x):
        xp, x = backend.get_array_module(x), _floating(x)
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
        return backend.erf(_floating(x))

    def backward(self, gy, x):
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class GELU(Function):
    """x·Φ(x) with Φ(x) = (1 + erf(x/√2)) / 2, fused into one op: two passes over the data
    forward instead of five, and the backward reuses Φ.

    d/dx = Φ(x) + x·φ(x), with φ(x) = e^(-x²/2) / √(2π) the standard normal density.
    """

    def forward(self, x):
        x = _floating(x)
        self.cdf = 0.5 * (1 + backend.erf(x * (1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, gy, x):
        if isinstance(gy, Tensor):  # building a graph: Φ again, as a differentiable function of x
            cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        else:
            cdf = self.cdf
        pdf = exp(-0.5 * (x * x)) * (1 / math.sqrt(2 * math.pi))
        return gy * (cdf + x * pdf)


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
    """cond ? a : b, element-wise with broadcasting; ``cond`` is a constant boolean mask."""

    promotes = True

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return backend.get_array_module(self.cond).where(self.cond, a, b)

    def backward(self, gy, a, b):
        return sum_to(Where(self.cond)(gy, 0.0), a.shape), sum_to(Where(self.cond)(0.0, gy), b.shape)


class Extremum(Function):
    """maximum (largest=True) or minimum of two tensors; a tie sends half the gradient to each (as torch)."""

    promotes = True

    def __init__(self, largest):
        self.largest = largest

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        return xp.maximum(a, b) if self.largest else xp.minimum(a, b)

    def backward(self, gy, a, b):
        ra, rb = unwrap(a), unwrap(b)
        wins = (ra > rb) if self.largest else (ra < rb)
        share = (wins + 0.5 * (ra == rb)).astype(gy.dtype)  # 1 where a wins, 0.5 on ties, 0 where b wins
        return sum_to(gy * share, a.shape), sum_to(gy * (1 - share), b.shape)


class Abs(Function):
    def forward(self, x):
        return backend.get_array_module(x).abs(x)

    def backward(self, gy, x):
        return gy * backend.get_array_module(unwrap(x)).sign(unwrap(x))  # sign(0) = 0, as torch


class Rsqrt(Function):
    """1/√x; d/dx = -½ x^(-3/2) = -½ y³."""

    def forward(self, x):
        return 1 / backend.get_array_module(x).sqrt(_floating(x))

    def backward(self, gy, x):
        y = self.output_like(gy)
        return gy * (-0.5) * y * y * y


class Sin(Function):
    def forward(self, x):
        return backend.get_array_module(x).sin(_floating(x))

    def backward(self, gy, x):
        return gy * cos(x)


class Cos(Function):
    def forward(self, x):
        return backend.get_array_module(x).cos(_floating(x))

    def backward(self, gy, x):
        return gy * -sin(x)


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
        return GELU()(x)
    if approximate == "tanh":
        return x * (0.5 * (1 + tanh((x + 0.044715 * x ** 3) * math.sqrt(2 / math.pi))))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def abs(x):
    return Abs()(x)


def rsqrt(x):
    return Rsqrt()(x)


def sin(x):
    return Sin()(x)


def cos(x):
    return Cos()(x)


def silu(x):
    """SiLU / swish (Elfwing et al. 2017; Ramachandran et al. 2017): x·σ(x)."""
    return x * sigmoid(x)


def maximum(a, b):
    return Extremum(True)(a, b)


def minimum(a, b):
    return Extremum(False)(a, b)


def clamp(x, min=None, max=None):
    """min(max(x, min), max) (torch.clamp); bounds are numbers or tensors, the gradient passes inside them."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of min and max must be given")
    if x.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        x = cast(x, config.default_dtype)  # torch: an int tensor clamped by a float bound is float
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    return Clip(min, max)(x)


clip = clamp


def where(cond, a, b):
    """a where cond is true, b elsewhere (torch.where); numbers give a Tensor too."""
    c = unwrap(cond)
    if getattr(c, "dtype", None) != np.bool_:
        raise RuntimeError(f"where: condition must be a boolean tensor, got {getattr(c, 'dtype', type(c).__name__)}")
    try:
        np.broadcast_shapes(c.shape, np.shape(unwrap(a)), np.shape(unwrap(b)))
    except ValueError:
        raise ShapeError(
            f"where: condition {tuple(c.shape)}, input {np.shape(unwrap(a))} and other {np.shape(unwrap(b))} "
            "do not broadcast"
        ) from None
    if _python_number(a) and _python_number(b):
        xp = backend.get_array_module(c)
        a = Tensor(xp.asarray(a, dtype=_scalar_dtype(a, b)))
    return Where(c)(a, b)


def _python_number(v):
    """A Python bool/int/float, not a NumPy scalar (np.float64 subclasses float but keeps its own dtype)."""
    return isinstance(v, (bool, int, float)) and not isinstance(v, np.generic)


def _scalar_dtype(a, b):
    """torch's dtype for two Python numbers: float if either is, else int64 (bool if both are)."""
    if isinstance(a, float) or isinstance(b, float):
        return config.default_dtype
    if isinstance(a, bool) and isinstance(b, bool):
        return np.bool_
    return np.int64


def cast(x, dtype):
    return x if x.dtype == np.dtype(dtype) else Cast(dtype)(x)


def to_device(x, device):
    return ToDevice(device)(x)
