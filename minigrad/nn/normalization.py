"""Layer normalisation and RMS normalisation, as functions and as modules (PyTorch's names and arguments).

Both normalise over the LAST ``len(normalized_shape)`` dimensions of the input
with one op, ``Normalize``, whose backward is written by hand (and with minigrad
ops, so it can be differentiated again); the learned scale and shift are plain
``*`` and ``+`` after it.
"""
import numpy as np

from minigrad import backend, config
from minigrad import functions as ops
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Function, Tensor


class Normalize(Function):
    """x̂ = (x - μ) · r with r = 1/√(σ² + eps), statistics over ``dims`` (LayerNorm); with
    ``center=False``, x̂ = x · r and r = 1/√(mean(x²) + eps) (RMSNorm).

    Differentiating x̂ by x gives, with means over the same dims,
        dx = r · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ ⊙ x̂))     (LayerNorm)
        dx = r · (dx̂ - x̂ · mean(dx̂ ⊙ x̂))                (RMSNorm: no mean(dx̂) term)
    """

    def __init__(self, dims, eps, center):
        self.dims, self.eps, self.center = dims, eps, center

    def centred_and_rstd(self, x):
        """(x - μ, r) on arrays or Tensors."""
        c = x - ops.mean(x, self.dims, keepdim=True) if self.center else x
        return c, (ops.mean(c * c, self.dims, keepdim=True) + self.eps) ** -0.5

    def forward(self, x):
        c, self.rstd = self.centred_and_rstd(x)
        return c * self.rstd

    def backward(self, gy, x):
        x_hat = self.output_like(gy)
        rstd = self.centred_and_rstd(x)[1] if isinstance(gy, Tensor) else self.rstd  # create_graph: r(x) in the graph
        gx = gy - x_hat * ops.mean(gy * x_hat, self.dims, keepdim=True)
        # On arrays these update gx's own buffer; on Tensors they record new nodes.
        if self.center:
            gx -= ops.mean(gy, self.dims, keepdim=True)
        gx *= rstd
        return gx


def _normalized_axes(op, x, normalized_shape):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) == 0 or x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise RuntimeError(
            f"{op}: given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(map(str, shape))}], but got input of size {list(x.shape)}"
        )
    return shape, tuple(range(x.ndim - len(shape), x.ndim))


def _check_affine(op, name, tensor, shape):
    if tensor is not None and tuple(tensor.shape) != shape:
        raise RuntimeError(f"{op}: expected {name} of shape {list(shape)}, got {list(tensor.shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """y = (x - E[x]) / √(Var[x] + eps) · weight + bias, statistics over the normalised dimensions.

    Ba, Kiros & Hinton, "Layer Normalization" (2016), eq. 4. Var is the biased
    (divide by n) variance, as in the paper and in PyTorch.
    """
    shape, axes = _normalized_axes("layer_norm", input, normalized_shape)
    _check_affine("layer_norm", "weight", weight, shape)
    _check_affine("layer_norm", "bias", bias, shape)
    y = Normalize(axes, eps, center=True)(input)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """y = x / √(mean(x²) + eps) · weight; ``eps=None`` means the machine epsilon of the input's dtype.

    Zhang & Sennrich, "Root Mean Square Layer Normalization" (2019), eq. 4: no
    centring and no bias, only a rescaling by the root mean square.
    """
    shape, axes = _normalized_axes("rms_norm", input, normalized_shape)
    _check_affine("rms_norm", "weight", weight, shape)
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    y = Normalize(axes, eps, center=False)(input)
    return y if weight is None else y * weight


def _affine(shape, fill, dtype, device):
    xp = backend.array_module(device)
    return Parameter(xp.full(shape, fill, dtype=dtype or config.default_dtype))


def _as_shape(normalized_shape):
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


class LayerNorm(Module):
    """``layer_norm`` with a learned weight (starts at 1) and bias (starts at 0; none with bias=False)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device="cpu", dtype=None):
        super().__init__()
        self.normalized_shape, self.eps, self.elementwise_affine = _as_shape(normalized_shape), eps, elementwise_affine
        if elementwise_affine:
            self.weight = _affine(self.normalized_shape, 1.0, dtype, device)
            self.bias = _affine(self.normalized_shape, 0.0, dtype, device) if bias else None
        else:
            self.weight = self.bias = None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    """``rms_norm`` with a learned weight that starts at 1."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device="cpu", dtype=None):
        super().__init__()
        self.normalized_shape, self.eps, self.elementwise_affine = _as_shape(normalized_shape), eps, elementwise_affine
        self.weight = _affine(self.normalized_shape, 1.0, dtype, device) if elementwise_affine else None

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
