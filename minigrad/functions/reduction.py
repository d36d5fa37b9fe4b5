"""Reductions over dims (sum, mean, amax, var, ...), their index-returning
cousins (max(dim), topk, argmax) and the softmax family, with PyTorch's arguments.

The gradient of a reduction is "spread back": every input element that fed an
output element receives that element's gradient. Re-inserting the reduced dims
(``keepdim``) and broadcasting does exactly that. Ops that *select* elements
(max(dim), topk) return their values through ``gather``, so only the selected
element gets the gradient, as in PyTorch.
"""
import builtins
import math
import warnings
from collections import namedtuple

from minigrad import backend
from minigrad.functions.arithmetic import broadcast_to
from minigrad.functions.dims import dim_index, dim_tuple
from minigrad.functions.elementwise import _floating, exp, maximum, minimum, where
from minigrad.functions.indexing import gather
from minigrad.functions.shape import reshape, squeeze
from minigrad.tensor import Function, ShapeError, Tensor, unwrap

# PyTorch returns these as torch.return_types.<op>: a tuple with named fields.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
SortResult = namedtuple("sort", ["values", "indices"])


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Function):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy, x):
        return broadcast_to(reshape(gy, _kept_shape(x.shape, self.dims)), x.shape)


class Extreme(Function):
    """amax (largest=True) or amin over dims; tied extremes share the gradient equally (as torch)."""

    def __init__(self, dims, keepdim, largest):
        self.dims, self.keepdim, self.largest = dims, keepdim, largest

    def forward(self, x):
        reduce = x.max if self.largest else x.min
        return reduce(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy, x):
        shape = _kept_shape(x.shape, self.dims)
        hit = unwrap(x) == unwrap(self.output_like(gy)).reshape(shape)
        share = hit / hit.sum(axis=self.dims, keepdims=True)
        return broadcast_to(reshape(gy, shape), x.shape) * share.astype(x.dtype)


class LogSumExp(Function):
    """log Σ exp(x) over dims, shifted by the maximum so that exp never overflows."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        xp, x = backend.get_array_module(x), _floating(x)
        if x.size == 0:  # log of an empty sum: -inf, as torch
            return xp.log(x.sum(axis=self.dims, keepdims=self.keepdim))
        m = x.max(axis=self.dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = m + xp.log(xp.exp(x - m).sum(axis=self.dims, keepdims=True))
        return y if self.keepdim else y.sum(axis=self.dims)  # drop the size-1 dims

    def backward(self, gy, x):
        shape = _kept_shape(x.shape, self.dims)
        y = reshape(self.output_like(gy), shape)
        return reshape(gy, shape) * exp(x - y)  # d/dx_i = softmax_i


class Cumsum(Function):
    """Running sum along ``dim`` (from the end when ``reverse``); its gradient is the reverse running sum."""

    def __init__(self, dim, reverse=False):
        self.dim, self.reverse = dim, reverse

    def forward(self, x):
        xp = backend.get_array_module(x)
        dtype = xp.int64 if x.dtype.kind in "biu" else x.dtype
        if not self.reverse:
            return xp.cumsum(x, axis=self.dim, dtype=dtype)
        flipped = xp.flip(x, axis=self.dim)
        return xp.flip(xp.cumsum(flipped, axis=self.dim, dtype=dtype), axis=self.dim)

    def backward(self, gy, x):
        return Cumsum(self.dim, not self.reverse)(gy)


class Softmax(Function):
    """softmax_i = e^(x_i) / Σ_j e^(x_j); backward y ⊙ (g - Σ g ⊙ y)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp, x = backend.get_array_module(x), _floating(x)
        if x.size == 0:
            return x.copy()
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        return e / e.sum(axis=self.dim, keepdims=True)

    def backward(self, gy, x):
        y = self.output_like(gy)
        return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """log softmax = x - logsumexp(x); backward g - softmax ⊙ Σ g."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        x = _floating(x)
        if x.size == 0:
            return x.copy()
        return x - LogSumExp(() if self.dim is None else (self.dim,), True).forward(x)

    def backward(self, gy, x):
        return gy - exp(self.output_like(gy)) * gy.sum(axis=self.dim, keepdims=True)


def _non_empty(x, dims, op):
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"{op}: cannot reduce dim {d} of size 0 (tensor of shape {tuple(x.shape)})")


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    dim, keepdim = (dim if axis is None else axis), keepdim or keepdims
    return Sum(dim_tuple(dim, x.shape, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    dim, keepdim = (dim if axis is None else axis), keepdim or keepdims
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"mean: input dtype must be floating point, got {x.dtype}; cast it first (x.float())")
    dims = dim_tuple(dim, x.shape, "mean")
    count = math.prod(x.shape[d] for d in dims)
    return Sum(dims, keepdim)(x) / count if count else Sum(dims, keepdim)(x) * math.nan


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    dim, keepdim = (dim if axis is None else axis), keepdim or keepdims
    dims = dim_tuple(dim, x.shape, "amax")
    _non_empty(x, dims, "amax")
    return Extreme(dims, keepdim, True)(x)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    dim, keepdim = (dim if axis is None else axis), keepdim or keepdims
    dims = dim_tuple(dim, x.shape, "amin")
    _non_empty(x, dims, "amin")
    return Extreme(dims, keepdim, False)(x)


def _select(x, dim, keepdim, largest, op, result):
    """(values, indices) of the max or min along one dim: torch.max(x, dim)."""
    d = dim_index(dim, x.shape, op)
    _non_empty(x, (d,) if x.ndim else (), op)
    xp = backend.get_array_module(unwrap(x))
    data = unwrap(x).reshape(1) if x.ndim == 0 else unwrap(x)
    pick = xp.argmax if largest else xp.argmin
    index = xp.expand_dims(pick(data, axis=d), d)  # (..., 1, ...)
    values = gather(reshape(x, data.shape), d, index)
    if not keepdim or x.ndim == 0:
        values, index = squeeze(values, d), index.squeeze(d)
    if x.ndim == 0:
        index = index.reshape(())
    return result(values, Tensor(index.astype(xp.int64)))


def _extreme(x, dim, keepdim, largest):
    """max/min in torch's three forms: the extreme element (no dim), (values, indices) along ``dim``,
    or the element-wise extreme of two tensors (``dim`` is a Tensor)."""
    op = "max" if largest else "min"
    if isinstance(dim, Tensor):
        return maximum(x, dim) if largest else minimum(x, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}: keepdim=True needs a dim (torch's {op}() has no keepdim form)")
        if math.prod(x.shape) == 0:
            raise RuntimeError(f"{op}: a tensor with no elements (shape {tuple(x.shape)}) has no {op}; pass dim")
        return Extreme(tuple(range(x.ndim)), False, largest)(x)
    return _select(x, dim, keepdim, largest, op, MaxResult if largest else MinResult)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """max(x): the largest element; max(x, dim): (values, indices); max(x, other): maximum(x, other)."""
    return _extreme(x, dim if axis is None else axis, keepdim or keepdims, True)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """min(x): the smallest element; min(x, dim): (values, indices); min(x, other): minimum(x, other)."""
    return _extreme(x, dim if axis is None else axis, keepdim or keepdims, False)


def _arg(x, dim, keepdim, largest, op):
    xp = backend.get_array_module(unwrap(x))
    data = unwrap(x)
    pick = xp.argmax if largest else xp.argmin
    if dim is None:
        if data.size == 0:
            raise IndexError(f"{op}: a tensor with no elements (shape {tuple(x.shape)}) has no {op}; pass dim")
        index = pick(data.reshape(-1))
        return Tensor(xp.asarray(index, dtype=xp.int64).reshape((1,) * data.ndim if keepdim else ()))
    d = dim_index(dim, x.shape, op)
    if x.ndim == 0:
        return Tensor(xp.zeros((), dtype=xp.int64))
    _non_empty(x, (d,), op)
    index = pick(data, axis=d)
    return Tensor((xp.expand_dims(index, d) if keepdim else index).astype(xp.int64))


def argmax(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, True, "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, False, "argmin")


def _order(x, dim, descending):
    """Indices that sort ``x`` along ``dim`` (stable, so ties keep their order)."""
    xp = backend.get_array_module(unwrap(x))
    data = unwrap(x)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable")
    if data.dtype.kind == "i":
        return xp.argsort(-data, axis=dim, kind="stable")
    if data.dtype.kind == "f":
        order = xp.argsort(-data, axis=dim, kind="stable")  # NaNs come last here...
        if not xp.isnan(data).any():
            return order
        nan = xp.isnan(xp.take_along_axis(data, order, axis=dim))  # ...but torch counts NaN as the largest
        return xp.take_along_axis(order, xp.argsort(~nan, axis=dim, kind="stable"), axis=dim)
    return xp.flip(xp.argsort(data, axis=dim, kind="stable"), axis=dim)  # bool/unsigned: no negation


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) entries along ``dim``, as (values, indices)."""
    d = dim_index(dim, x.shape, "topk")
    size = x.shape[d] if x.ndim else 1
    if not isinstance(k, int):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__} {k!r}")
    if not 0 <= k <= size:
        raise ShapeError(f"topk: k={k} is out of range for dim {dim} of size {size} (shape {tuple(x.shape)})")
    if x.ndim == 0:
        return TopkResult(x * 1, Tensor(backend.get_array_module(x.data).zeros((), dtype="int64")))
    index = _order(x, d, largest)
    index = index[(slice(None),) * d + (slice(0, k),)]
    return TopkResult(gather(x, d, index), Tensor(index.astype("int64")))


def sort(x, dim=-1, descending=False):
    """Values sorted along ``dim`` and the indices they came from (stable)."""
    d = dim_index(dim, x.shape, "sort")
    if x.ndim == 0:
        return SortResult(x * 1, Tensor(backend.get_array_module(x.data).zeros((), dtype="int64")))
    index = _order(x, d, descending)
    return SortResult(gather(x, d, index), Tensor(index.astype("int64")))


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Σ (x - mean)² / (N - correction) over dims; correction=1 is Bessel's (torch's default).

    Both of torch's spellings: ``var(dim, unbiased, keepdim)`` and ``var(dim, correction=, keepdim=)``."""
    if isinstance(dim, bool):  # x.var(False): the unbiased flag alone
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"var: input dtype must be floating point, got {x.dtype}")
    dims = dim_tuple(dim, x.shape, "var")
    count = math.prod(x.shape[d] for d in dims)
    centred = x - mean(x, dims, keepdim=True)
    return sum(centred * centred, dims, keepdim) / builtins.max(count - correction, 0)  # /0: inf or nan, as torch


class StdRoot(Function):
    """std = √var, whose gradient ½/std is 0 (not ½/0 · 0 = nan) where std is 0, as torch's std:
    a constant input has a zero std and a zero gradient."""

    def forward(self, v):
        return backend.get_array_module(v).sqrt(v)

    def backward(self, gy, v):
        y = self.output_like(gy)
        zero = unwrap(y) == 0
        half = 0.5 * (~zero).astype(unwrap(y).dtype)  # ½ where std > 0, 0 where it is 0
        return gy * half / where(zero, 1.0, y)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """√var: the standard deviation, with var's arguments."""
    return StdRoot()(var(x, dim, unbiased, keepdim, correction=correction))


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    dim, keepdim = (dim if axis is None else axis), keepdim or keepdims
    return LogSumExp(dim_tuple(dim, x.shape, "logsumexp"), keepdim)(x)


def cumsum(x, dim):
    d = dim_index(dim, x.shape, "cumsum")
    if x.ndim == 0:
        return reshape(Cumsum(0)(reshape(x, (1,))), ())
    return Cumsum(d)(x)


def _implicit_dim(x, dim, op):
    """torch's F.softmax(x) without dim (deprecated there): dim 0 for 0-, 1- and 3-d inputs, else dim 1."""
    if dim is not None:
        return dim
    warnings.warn(f"{op}: implicit dimension choice is deprecated (as in torch); pass dim", UserWarning, stacklevel=3)
    return 0 if x.ndim in (0, 1, 3) else 1


def softmax(x, dim=None, *, axis=None):
    dim = _implicit_dim(x, dim if axis is None else axis, "softmax")
    d = dim_index(dim, x.shape, "softmax")  # a 0-d tensor takes dim 0 or -1, as in torch
    return Softmax(d if x.ndim else None)(x)


def log_softmax(x, dim=None, *, axis=None):
    dim = _implicit_dim(x, dim if axis is None else axis, "log_softmax")
    d = dim_index(dim, x.shape, "log_softmax")
    return LogSoftmax(d if x.ndim else None)(x)

