"""Learned step size quantization (LSQ): the scale S is a parameter trained by backprop.

Esser et al. 2020 ("Learned Step Size Quantization", ICLR; arXiv 2019), section
2, eq. 3: with the straight-through estimator for round, the quantizer
x_hat = S * clamp(round(x/S), -Q_N, Q_P) has

    d x_hat / d S = round(x/S) - x/S     inside the range
                  = -Q_N or Q_P           where x was clamped below / above

so S learns how quantization error moves with it, not just how x does. Their
section 2.2 scales this gradient by g = 1/sqrt(N * Q_P) (N = number of
elements) so S learns at a pace comparable to the weights.

``fake_quantize_learnable_per_tensor_affine`` is PyTorch's
``torch._fake_quantize_learnable_per_tensor_affine`` with an affine zero point
Z (learnable too, as in LSQ+): forward = ``fake_quantize_per_tensor_affine``
with round(Z) clamped into range; backward, elementwise then summed:

    dx = dy * [in range]
    dS = dy * (x_fq - x) / S * grad_factor     in range       (x_fq - x)/S = (q - Z) - x/S
       = dy * (Q_min - Z) * grad_factor        below
       = dy * (Q_max - Z) * grad_factor        above
    dZ = 0 in range,   dy * (-S) * grad_factor  outside

The two sums are taken in float64 (PyTorch sums in float32, in its own order:
the results agree to float32 rounding, not bit for bit). ``grad_factor`` is applied by the op itself (pass 1.0 for plain gradients, or
LSQ's 1/sqrt(N * Q_P)). PyTorch reads the zero point as round-half-even(Z) in
the forward pass and as trunc(Z + 0.5) in the backward pass; both are kept.
"""
import numpy as np

from minigrad.quantization.fake_quantize import FakeQuantizePerTensorAffine, _check_float, _check_range
from minigrad.tensor import Function, Tensor


def _clamped(z, quant_min, quant_max):
    return int(min(max(z, np.float32(quant_min)), np.float32(quant_max)))


class LearnableFakeQuantizePerTensorAffine(Function):
    def __init__(self, quant_min, quant_max, grad_factor):
        self.quant_min, self.quant_max = quant_min, quant_max
        self.grad_factor = np.float32(grad_factor)

    def forward(self, x, scale, zero_point):
        z = _clamped(np.float32(zero_point.reshape(-1)[0]).round(), self.quant_min, self.quant_max)
        fq = FakeQuantizePerTensorAffine(np.float32(scale.reshape(-1)[0]), z, self.quant_min, self.quant_max)
        return fq.forward(x)

    def backward(self, gy, x, scale, zero_point):
        if isinstance(gy, Tensor):
            raise NotImplementedError("fake_quantize_learnable_per_tensor_affine: no double backward")
        s = np.float32(scale.reshape(-1)[0])
        inv_s = np.float32(1.0) / s
        z = _clamped(np.float32(zero_point.reshape(-1)[0]) + np.float32(0.5), self.quant_min, self.quant_max)
        q = (np.float32(z) + x * inv_s).round()
        below, above = q < self.quant_min, q > self.quant_max
        inside = ~(below | above)
        gf = self.grad_factor
        x_fq = (np.clip(q, self.quant_min, self.quant_max) - np.float32(z)) * s
        d_scale = np.where(inside, gy * (x_fq - x) * inv_s * gf,
                           np.where(below, gy * np.float32(self.quant_min - z), gy * np.float32(self.quant_max - z)) * gf)
        d_zero = np.where(inside, np.float32(0), gy * np.float32(-1) * s * gf)
        return (gy * inside,
                d_scale.sum(dtype=np.float64).astype(np.float32).reshape(scale.shape),
                d_zero.sum(dtype=np.float64).astype(np.float32).reshape(zero_point.shape))


def fake_quantize_learnable_per_tensor_affine(input, scale, zero_point, quant_min, quant_max, grad_factor=1.0):
    """PyTorch's learnable fake-quantize op: gradients reach ``scale`` and ``zero_point`` (float32, shape (1,))."""
    op = "fake_quantize_learnable_per_tensor_affine"
    _check_range(op, quant_min, quant_max)
    _check_float(op, input)
    if input.dtype != np.float32:
        raise TypeError(f"{op}: input must be float32 (as in PyTorch), got {input.dtype}")
    if not quant_min <= 0 <= quant_max:
        raise ValueError(f"{op}: the range [{quant_min}, {quant_max}] must include 0")
    for name, t in (("scale", scale), ("zero_point", zero_point)):
        if not isinstance(t, Tensor) or t.dtype != np.float32 or t.data.size != 1:
            raise TypeError(f"{op}: {name} must be a float32 Tensor of one element")
    if not scale.item() > 0:
        raise ValueError(f"{op}: scale must be positive, got {scale.item()}")
    return LearnableFakeQuantizePerTensorAffine(quant_min, quant_max, grad_factor)(input, scale, zero_point)
