"""Arithmetic with NumPy broadcasting: + - * / ** and matrix products.

When an input was broadcast in the forward pass, its gradient must be summed
back to the input's shape: d(x + b)/db for a bias ``b`` of shape (n,) added to
a batch (m, n) is the column sum of the incoming gradient. ``sum_to`` does that.
"""
import numpy as np

from minigrad import backend, config
from minigrad.functions.shape import reshape
from minigrad.tensor import Function, Tensor, unwrap


class SumTo(Function):
    """Sum a broadcast gradient back down to ``shape`` (leading axes and size-1 axes)."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.shape) if n == 1 and x.shape[lead + i] != 1
        )
        y = x.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape)

    def backward(self, gy, x):
        return broadcast_to(gy, x.shape)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        # A fresh writable array rather than np.broadcast_to's read-only view: it is
        # what a leaf's .grad must own anyway, and it skips broadcast_to's Python overhead.
        out = backend.get_array_module(x).empty(self.shape, dtype=x.dtype)
        out[...] = x
        return out

    def backward(self, gy, x):
        return sum_to(gy, x.shape)


def sum_to(x, shape):
    return x if x.shape == tuple(shape) else SumTo(shape)(x)


def broadcast_to(x, shape):
    return x if x.shape == tuple(shape) else BroadcastTo(shape)(x)


class Add(Function):
    promotes = True

    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy, x0, x1):
        return sum_to(gy, x0.shape), sum_to(gy, x1.shape)


class Sub(Function):
    promotes = True

    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy, x0, x1):
        return sum_to(gy, x0.shape), sum_to(-gy, x1.shape)


class Mul(Function):
    promotes = True

    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy, x0, x1):
        need0, need1 = self.needs_grad
        return (sum_to(gy * x1, x0.shape) if need0 else None,
                sum_to(gy * x0, x1.shape) if need1 else None)


class Div(Function):
    promotes = True

    def forward(self, x0, x1):
        if x0.dtype.kind in "biu":  # true division of integers gives the default float dtype
            with _quiet():  # n / 0 is inf, as in PyTorch, without NumPy's warning
                return (x0 / x1).astype(config.default_dtype)
        return x0 / x1

    def backward(self, gy, x0, x1):
        need0, need1 = self.needs_grad
        gx0 = gy / x1
        return (sum_to(gx0, x0.shape) if need0 else None,
                sum_to(-gx0 * x0 / x1, x1.shape) if need1 else None)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy, x):
        return -gy


class Pow(Function):
    """x ** c for a constant exponent c: d/dx = c · x^(c-1), and exactly 0 when c = 0
    (PyTorch's rule: x ** 0 is the constant 1 even at x = 0, where c · x^(c-1) is 0 · inf)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x ** self.c

    def backward(self, gy, x):
        if self.c == 0:
            return gy * 0
        return gy * self.c * x ** (self.c - 1)


class PowTensor(Function):
    """base ** exponent, both tensors (broadcast). With y = b^e:

        dy/db = e · b^(e-1)   (taken as 0 where e = 0, as for the constant case)
        dy/de = y · log(b)    (taken as 0 where b = 0 and e >= 0: there y is the
                               constant 0 or 1 near e, and log(0) = -inf must not
                               turn 0 · -inf into NaN; PyTorch's convention)

    A negative base with a fractional exponent has no real power: NaN, as in PyTorch.
    """

    promotes = True

    def forward(self, b, e):
        with _quiet():
            return b ** e

    def backward(self, gy, b, e):
        from minigrad.functions.elementwise import log, where

        need_b, need_e = self.needs_grad
        rb, re = unwrap(b), unwrap(e)
        gb = ge = None
        with _quiet():  # 0 ** negative and log of 0 or of a negative base: masked, or inf/NaN as PyTorch
            if need_b:
                gb = sum_to(where(re == 0, 0.0, gy * e * b ** (e - 1)), b.shape)
            if need_e:
                ge = sum_to(where((rb == 0) & (re >= 0), 0.0, gy * self.output_like(gy) * log(b)), e.shape)
        return gb, ge


def _quiet():
    """NumPy warns where PyTorch silently returns inf or NaN; the values are the same."""
    return np.errstate(divide="ignore", invalid="ignore")


class MatMul(Function):
    """Batched matrix product of arrays with ndim >= 2: dA = dY Bᵀ, dB = Aᵀ dY (summed over broadcast batch axes)."""

    promotes = True

    def forward(self, a, b):
        return a @ b

    def backward(self, gy, a, b):
        need_a, need_b = self.needs_grad
        return (sum_to(gy @ _swap_last(b), a.shape) if need_a else None,
                sum_to(_swap_last(a) @ gy, b.shape) if need_b else None)


def _swap_last(x):
    """Transpose the last two axes (``.mT``); raw arrays use ``swapaxes``, which CuPy also has."""
    return x.mT if isinstance(x, Tensor) else x.swapaxes(-1, -2)


class Linear(Function):
    """y = x Wᵀ + b with W stored (out, in) as in PyTorch; one fused op for speed.

    Gradients: dx = dy W, dW = dyᵀ x, db = Σ_rows dy (rows = every leading axis of x).
    """

    promotes = True

    def forward(self, x, W, b=None):
        # Rows of every leading axis as one 2-D GEMM: NumPy runs a 3-D ``@`` as a loop of smaller ones.
        y = x.reshape(-1, x.shape[-1]) @ W.T
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (W.shape[0],))

    def backward(self, gy, x, W, b=None):
        need_x, need_W = self.needs_grad[:2]
        gy2 = gy.reshape(-1, gy.shape[-1])
        gx = (gy2 @ W).reshape(x.shape) if need_x else None
        gW = gy2.T @ x.reshape(-1, x.shape[-1]) if need_W else None
        if b is None:
            return gx, gW
        return gx, gW, gy2.sum(axis=0)


def add(x0, x1):
    return Add()(x0, x1)


def sub(x0, x1):
    return Sub()(x0, x1)


def mul(x0, x1):
    return Mul()(x0, x1)


def div(x0, x1):
    return Div()(x0, x1)


def neg(x):
    return Neg()(x)


def pow(x, exponent):
    """x ** exponent; either may be a Tensor (a Python number base goes through ``Tensor.__rpow__``)."""
    if isinstance(exponent, Tensor):
        return PowTensor()(x, exponent)
    if isinstance(exponent, float) and x.dtype.kind in "biu":  # int tensor ** 0.5 is float, as torch
        x = x.astype(config.default_dtype)
    return Pow(exponent)(x)


def _check_matmul_shapes(a, b):
    for operand in (a, b):
        if not hasattr(operand, "ndim"):
            raise TypeError(f"matmul: both operands must be tensors, got {type(operand).__name__} {operand!r}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
            f"({inner_a} columns in the first, {inner_b} rows in the second)"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None


def matmul(a, b):
    """PyTorch's matmul: vectors are promoted to matrices and the extra axis removed after."""
    _check_matmul_shapes(a, b)
    if a.ndim >= 2 and b.ndim >= 2:
        return MatMul()(a, b)
    a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    y = MatMul()(a2, b2)
    shape = y.shape[:-2] + (y.shape[-2:-1] if a.ndim > 1 else ()) + (y.shape[-1:] if b.ndim > 1 else ())
    return reshape(y, shape)


def linear(x, weight, bias=None):
    """x @ weight.T + bias, PyTorch's ``F.linear``."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: input with {x.shape[-1]} features (shape {tuple(x.shape)}) does not match "
            f"weight of shape {tuple(weight.shape)} (out_features, in_features)"
        )
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
