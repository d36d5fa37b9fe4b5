"""Fake quantization: round to an integer grid and straight back to float, with PyTorch's exact arithmetic.

Uniform affine quantization (Jacob et al. 2018, "Quantization and Training of
Neural Networks for Efficient Integer-Arithmetic-Only Inference", section 2.1,
eq. 1: r = S (q - Z)) maps a real x to the integer

    q = clamp(Z + round(x * (1/S)), quant_min, quant_max)       round = half to even

and back to the real value S (q - Z). "Fake" quantization does both in float, so
a network in training sees exactly the values an integer kernel will see.
As in PyTorch, x is multiplied by the float32 reciprocal 1/S (not divided by S):
the two differ in the last bit for some x, and the rounding then differs at
half-integers. The forward pass here is written to give PyTorch's result bit
for bit, including its edge cases (NaN goes to quant_min; in the per-channel op
with integer zero points, so do +-inf and values past 2^63, because PyTorch
converts to int64 before clamping there).

The derivative of round is zero almost everywhere, which would stop all
learning. The straight-through estimator (Bengio, Leonard & Courville 2013,
section 4; used for QAT by Jacob et al. 2018, section 3) passes the gradient
through unchanged where x was not clamped and blocks it where it was:

    dL/dx = dL/dy * [quant_min <= Z + round(x/S) <= quant_max]

which is PyTorch's mask, computed in the forward pass and reused by backward.
"""
import numpy as np

from minigrad import backend
from minigrad.tensor import Function, Tensor

_INT64_LIMIT = 2.0**63


def _check_range(op, quant_min, quant_max):
    if quant_min > quant_max:
        raise ValueError(f"{op}: quant_min ({quant_min}) should be less than or equal to quant_max ({quant_max})")


def _as_float_scale(op, scale):
    """A positive, finite scale as float32 (PyTorch converts the double it is given to float)."""
    value = float(_one_value(op, "scale", scale))
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{op}: scale must be positive and finite, got {value}")
    return np.float32(value)


def _one_value(op, name, x):
    if isinstance(x, Tensor):
        x = x.data
    if hasattr(x, "size") and not isinstance(x, (int, float)):
        if x.size != 1:
            raise ValueError(f"{op}: {name} must be a number or a 1-element tensor, got shape {tuple(x.shape)}")
        return backend.to_numpy(x).reshape(()).item()
    return x


class FakeQuantizePerTensorAffine(Function):
    def __init__(self, scale, zero_point, quant_min, quant_max):
        self.scale, self.zero_point = scale, zero_point
        self.quant_min, self.quant_max = quant_min, quant_max

    def forward(self, x):
        xp = backend.get_array_module(x)
        compute = np.float64 if x.dtype == np.float64 else np.float32
        q = x.astype(compute) * compute(np.float32(1.0) / self.scale)    # a fresh array, rewritten in place
        xp.rint(q, out=q)                                                # ties to even
        q += compute(self.zero_point)
        self.mask = q >= self.quant_min
        self.mask &= q <= self.quant_max
        xp.fmax(q, compute(self.quant_min), out=q)                       # fmax, not maximum: NaN -> quant_min
        xp.fmin(q, compute(self.quant_max), out=q)
        q -= compute(self.zero_point)                                    # q - Z: a small integer, exact
        if compute is np.float32:
            q *= self.scale                                              # PyTorch: (int64) * float, in float
            return q if x.dtype == np.float32 else q.astype(x.dtype)
        return (q.astype(np.float32) * self.scale).astype(x.dtype)

    def backward(self, gy, x):
        return gy * self.mask


class FakeQuantizePerChannelAffine(Function):
    def __init__(self, scale, zero_point, axis, quant_min, quant_max):
        self.scale, self.zero_point, self.axis = scale, zero_point, axis
        self.quant_min, self.quant_max = quant_min, quant_max

    def forward(self, x):
        xp = backend.get_array_module(x)
        shape = [1] * x.ndim
        shape[self.axis] = -1
        scale = self.scale.reshape(shape)                    # (1, .., C, .., 1) float32
        inv_scale = np.float32(1.0) / scale
        zp = self.zero_point.reshape(shape)
        compute = np.float64 if x.dtype == np.float64 else np.float32   # PyTorch: x * float(1/S) in x's type
        scaled = x.astype(compute, copy=False) * inv_scale.astype(compute)
        if zp.dtype.kind == "f":   # float zero point: lrintf(Z + x/S), the sum taken to float first
            q = (scaled + zp.astype(compute)).astype(np.float32).round()
        else:                      # integer zero point: Z + round(x/S)
            q = scaled.round() + zp.astype(compute)
        # PyTorch converts q to int64 here; NaN, inf and |q| >= 2^63 become INT64_MIN on x86.
        q = xp.where(xp.abs(q) < _INT64_LIMIT, q, -_INT64_LIMIT)
        self.mask = (q >= self.quant_min) & (q <= self.quant_max)
        q = xp.clip(q, self.quant_min, self.quant_max)
        if zp.dtype.kind == "f" or compute is np.float64:   # PyTorch: (q - Z) * S in double
            return ((q.astype(np.float64) - zp) * scale.astype(np.float64)).astype(x.dtype)
        # float32: (q - Z) is a small integer, so its double product with S rounds to the float32 product
        return ((q - zp.astype(np.float32)) * scale).astype(x.dtype, copy=False)

    def backward(self, gy, x):
        return gy * self.mask


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """PyTorch's ``torch.fake_quantize_per_tensor_affine``: forward and straight-through backward, bit for bit.

    ``scale`` and ``zero_point``: numbers, or 1-element tensors (float scale, integer zero point).
    """
    op = "fake_quantize_per_tensor_affine"
    _check_range(op, quant_min, quant_max)
    zero_point = int(_one_value(op, "zero_point", zero_point))
    if not quant_min <= zero_point <= quant_max:
        raise ValueError(f"{op}: zero_point ({zero_point}) must be between quant_min ({quant_min}) and quant_max ({quant_max})")
    _check_float(op, input)
    return FakeQuantizePerTensorAffine(_as_float_scale(op, scale), zero_point, quant_min, quant_max)(input)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """PyTorch's ``torch.fake_quantize_per_channel_affine``: one (scale, zero_point) per slice along ``axis``.

    ``scale``: float tensor of shape (C,), C = input.shape[axis]; ``zero_point``: int32 (or float) tensor (C,).
    """
    op = "fake_quantize_per_channel_affine"
    _check_range(op, quant_min, quant_max)
    _check_float(op, input)
    scale = np.asarray(backend.to_numpy(scale.data if isinstance(scale, Tensor) else scale), dtype=np.float32)
    zero_point = backend.to_numpy(zero_point.data if isinstance(zero_point, Tensor) else zero_point)
    zero_point = np.asarray(zero_point)
    if not 0 <= axis < input.ndim:  # PyTorch takes no negative axis here
        raise ValueError(f"{op}: axis {axis} is out of range [0, {input.ndim}) for an input of shape {tuple(input.shape)}")
    if scale.ndim != 1 or zero_point.shape != scale.shape or scale.shape[0] != input.shape[axis]:
        raise ValueError(
            f"{op}: scale {tuple(scale.shape)} and zero_point {tuple(zero_point.shape)} must both have shape "
            f"({input.shape[axis]},), the size of axis {axis} of the input {tuple(input.shape)}"
        )
    if zero_point.dtype.kind not in "if":
        raise TypeError(f"{op}: zero_point must be an integer or float tensor, got dtype {zero_point.dtype}")
    if zero_point.dtype.kind == "i" and ((zero_point < quant_min) | (zero_point > quant_max)).any():
        raise ValueError(f"{op}: every zero_point must be between quant_min ({quant_min}) and quant_max ({quant_max})")
    if not (np.isfinite(scale) & (scale > 0)).all():
        raise ValueError(f"{op}: every scale must be positive and finite, got {scale}")
    xp = backend.get_array_module(input.data)
    fn = FakeQuantizePerChannelAffine(xp.asarray(scale), xp.asarray(zero_point), axis, quant_min, quant_max)
    return fn(input)


def _check_float(op, input):
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        kind = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"{op}: input must be a floating Tensor, got {kind}")


def integer_codes(x, scale, zero_point, quant_min, quant_max):
    """The integer codes q = clamp(Z + round(x * (1/S)), quant_min, quant_max) of a float32 array, as int32.

    The same arithmetic as ``fake_quantize_per_tensor_affine`` (so dequantizing
    S (q - Z) gives its output exactly); the codes are what an int8 kernel stores.
    """
    xp = backend.get_array_module(x)
    scale = _as_float_scale("integer_codes", scale)
    q = (x.astype(np.float32, copy=False) * (np.float32(1.0) / scale)).round() + np.float32(zero_point)
    return xp.fmin(xp.fmax(q, np.float32(quant_min)), np.float32(quant_max)).astype(np.int32)
