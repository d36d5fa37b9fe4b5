"""Losses and stateless layers, PyTorch's ``torch.nn.functional`` names and arguments."""
import numpy as np

from minigrad import backend
from minigrad import functions as _ops
from minigrad.functions import (  # noqa: F401  (re-exported for F.relu etc.)
    dropout, gelu, linear, log_softmax, one_hot, relu, sigmoid, silu, softmax, tanh,
)
from minigrad.tensor import Function, Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    """Per-element losses to their mean or sum; 'none' keeps them."""
    return loss if reduction == "none" else {"mean": _ops.mean, "sum": _ops.sum}[reduction](loss)


def embedding(input, weight):
    """Rows of ``weight`` at integer positions ``input`` (torch argument order)."""
    return _ops.embedding(weight, input)


class CrossEntropy(Function):
    """Softmax cross-entropy on logits, fused so large logits (1e4) stay finite.

    loss_i = logsumexp(x_i) - x_i[t_i]; its gradient is softmax(x_i) - onehot(t_i).
    ``weights`` holds each row's factor: 1/(number of counted rows) for 'mean',
    1 for 'sum' and 'none', and 0 for rows whose target is ``ignore_index``.
    """

    def __init__(self, target, weights, reduction):
        self.target, self.weights, self.reduction = target, weights, reduction

    def forward(self, x):
        xp = backend.get_array_module(x)
        rows = xp.arange(x.shape[0])
        m = x.max(axis=1, keepdims=True)
        lse = (m + xp.log(xp.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]
        nll = (lse - x[rows, self.target]) * self.weights
        return nll if self.reduction == "none" else nll.sum()

    def backward(self, gy, x):
        xp = backend.get_array_module(self.weights)
        onehot = xp.zeros(x.shape, dtype=x.dtype)
        onehot[xp.arange(x.shape[0]), self.target] = 1
        per_row = gy * self.weights  # gy is a scalar, or one value per row for 'none'
        return (softmax(x, axis=1) - onehot) * _ops.reshape(per_row, (x.shape[0], 1))


def cross_entropy(input, target, ignore_index=-100, reduction="mean"):
    """Mean (or sum, or per-sample) negative log-likelihood of class ``target`` under softmax(input).

    input: logits (N, C) or (N, C, d1, ...) like PyTorch; target: integers (N,) or (N, d1, ...).
    With reduction='mean' the average is over targets that are not ``ignore_index``.
    """
    _check_reduction("cross_entropy", reduction)
    t = target.data if isinstance(target, Tensor) else target
    xp = backend.get_array_module(input.data)
    t = xp.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {t.dtype}")
    if input.ndim < 2 or t.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(
            f"cross_entropy: logits of shape {tuple(input.shape)} need targets of shape "
            f"{tuple(input.shape[:1] + input.shape[2:])} (class axis 1), got {tuple(t.shape)}"
        )
    num_classes = input.shape[1]
    logits = input
    if input.ndim > 2:  # move the class axis last and flatten: (N, C, d...) -> (N*d..., C)
        axes = (0,) + tuple(range(2, input.ndim)) + (1,)
        logits = _ops.reshape(_ops.permute(input, axes), (-1, num_classes))
    flat_t = t.reshape(-1)
    valid = flat_t != ignore_index
    bad = valid & ((flat_t < 0) | (flat_t >= num_classes))
    if bool(bad.any()):
        raise IndexError(
            f"cross_entropy: target {int(flat_t[bad][0])} is out of range for {num_classes} classes "
            f"(ignore_index={ignore_index})"
        )
    weights = valid.astype(input.dtype)
    counted = weights.sum()
    if reduction == "mean" and counted == 0:
        # Every target ignored: PyTorch returns the mean over zero rows, 0/0 = NaN, yet no
        # row sends a gradient. Sum of nothing (0, zero gradients) plus a constant NaN does that.
        return CrossEntropy(xp.zeros_like(flat_t), weights, "sum")(logits) + float("nan")
    if reduction == "mean":
        weights = weights / counted
    loss = CrossEntropy(xp.where(valid, flat_t, 0), weights, reduction)(logits)
    return _ops.reshape(loss, t.shape) if reduction == "none" else loss


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum) of squared differences."""
    _check_reduction("mse_loss", reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"mse_loss: input shape {tuple(input.shape)} differs from target shape {tuple(target.shape)}")
    diff = input - target
    return _reduce(diff * diff, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """l(x, y) = -[y log σ(x) + (1-y) log(1-σ(x))], per element.

    Forward uses max(x, 0) - x·y + log(1 + e^-|x|), which never overflows. The
    derivatives are written directly: ∂l/∂x = σ(x) - y and ∂l/∂y = -x, so the
    kink of |x| at 0 never leaks into the gradient (σ(0) - y is right at x = 0).
    """

    def forward(self, x, y):
        xp = backend.get_array_module(x)
        return xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy, x, y):
        return gy * (sigmoid(x) - y), -gy * x


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Mean (or sum, or per-element) binary cross-entropy of targets in [0, 1] under σ(input)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target_shape = tuple(np.shape(target.data if isinstance(target, Tensor) else target))
    if tuple(input.shape) != target_shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input shape {tuple(input.shape)} differs from target shape {target_shape}"
        )
    loss = BinaryCrossEntropyWithLogits()(input, target)
    return _reduce(loss, reduction)
