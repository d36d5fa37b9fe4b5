"""Reductions over axes (sum, mean, max) and the softmax family.

The gradient of a reduction is "spread back": every input element that fed an
output element receives that element's gradient. Re-inserting the reduced axes
(``keepdims``) and broadcasting does exactly that.
"""
from minigrad import backend
from minigrad.functions.arithmetic import broadcast_to
from minigrad.functions.elementwise import exp
from minigrad.functions.shape import reshape
from minigrad.tensor import Function, unwrap


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(a % ndim for a in axes) if ndim else ()


def _keepdims_shape(shape, axis):
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, x):
        return broadcast_to(reshape(gy, _keepdims_shape(x.shape, self.axis)), x.shape)


class Max(Function):
    """Maximum over axes; tied maxima share the gradient equally (as torch.amax)."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return x.max(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy, x):
        shape = _keepdims_shape(x.shape, self.axis)
        is_max = unwrap(x) == unwrap(self.output_like(gy)).reshape(shape)
        share = is_max / is_max.sum(axis=self.axis, keepdims=True)
        return broadcast_to(reshape(gy, shape), x.shape) * share.astype(x.dtype)


class LogSumExp(Function):
    """log Σ exp(x) along ``axis``, shifted by the maximum so that exp never overflows."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        xp = backend.get_array_module(x)
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = m + xp.log(xp.exp(x - m).sum(axis=self.axis, keepdims=True))
        return y if self.keepdims else y.reshape(_reduced_shape(x.shape, self.axis))

    def backward(self, gy, x):
        shape = _keepdims_shape(x.shape, self.axis)
        y = reshape(self.output_like(gy), shape)
        return reshape(gy, shape) * exp(x - y)  # d/dx_i = softmax_i


class Softmax(Function):
    """softmax_i = e^(x_i) / Σ_j e^(x_j); backward y ⊙ (g - Σ g ⊙ y)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy, x):
        y = self.output_like(gy)
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """log softmax = x - logsumexp(x); backward g - softmax ⊙ Σ g."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return x - LogSumExp(self.axis, True).forward(x)

    def backward(self, gy, x):
        return gy - exp(self.output_like(gy)) * gy.sum(axis=self.axis, keepdims=True)


def _reduced_shape(shape, axis):
    axes = _axes(axis, len(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    total = Sum(axis, keepdims)(x)  # checks the axes first, naming the op
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return total / count


def max(x, axis=None, keepdims=False):
    if x.size == 0:
        raise ValueError(f"max: cannot reduce an empty tensor of shape {tuple(x.shape)}")
    return Max(axis, keepdims)(x)


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp(axis, keepdims)(x)


def softmax(x, axis=-1):
    return Softmax(axis)(x)


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)
