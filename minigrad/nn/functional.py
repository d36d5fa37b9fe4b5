"""Losses and stateless layers, PyTorch's ``torch.nn.functional`` names and arguments."""
import numpy as np

from minigrad import backend
from minigrad import functions as _ops
from minigrad.functions import (  # noqa: F401  (re-exported for F.relu etc.)
    dropout, gelu, linear, log_softmax, one_hot, relu, sigmoid, silu, softmax, tanh,
)
from minigrad.nn.attention import scaled_dot_product_attention  # noqa: F401
from minigrad.nn.losses import _check_reduction, cross_entropy, nll_loss  # noqa: F401
from minigrad.nn.normalization import layer_norm, rms_norm  # noqa: F401
from minigrad.tensor import Function, Tensor


def _reduce(loss, reduction):
    """Per-element losses to their mean or sum; 'none' keeps them."""
    return loss if reduction == "none" else {"mean": _ops.mean, "sum": _ops.sum}[reduction](loss)


def embedding(input, weight):
    """Rows of ``weight`` at integer positions ``input`` (torch argument order)."""
    return _ops.embedding(weight, input)


def mse_loss(input, target, *, reduction="mean"):
    """Mean (or sum) of squared differences."""
    _check_reduction("mse_loss", reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"mse_loss: input shape {tuple(input.shape)} differs from target shape {tuple(target.shape)}")
    diff = input - target
    return _reduce(diff * diff, reduction)


class SoftPlus(Function):
    """softplus(x) = log(1 + e^x) = max(x, 0) + log(1 + e^-|x|) (never overflows); its derivative is σ(x)."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy, x):
        return gy * sigmoid(x)


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


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Mean (or sum, or per-element) binary cross-entropy of targets in [0, 1] under σ(input).

    ``weight`` rescales each element's loss; ``pos_weight`` p weighs the positive term, as torch:
    l = -w [p·y log σ(x) + (1-y) log(1-σ(x))] = w [(1-y)·x + (1 + (p-1)·y)·softplus(-x)].
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target_shape = tuple(np.shape(target.data if isinstance(target, Tensor) else target))
    if tuple(input.shape) != target_shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input shape {tuple(input.shape)} differs from target shape {target_shape}"
        )
    if pos_weight is None:
        loss = BinaryCrossEntropyWithLogits()(input, target)
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * SoftPlus()(-input)
    return _reduce(loss if weight is None else loss * weight, reduction)
