"""Fake-quantized Linear layers: the model used for quantization-aware training and for PTQ.

Quantization-aware training (Jacob et al. 2018, section 3; Krishnamoorthi 2018,
section 3) trains the float weights while the forward pass sees them, and the
layer inputs, through fake quantizers; the straight-through estimator carries
the gradient back. The network learns weights that still work after rounding.
It is ordinary training on a modified forward pass: there is no teacher model
and no second loss (it is not distillation, though the two can be combined).

Post-training quantization (PTQ) uses the very same layers without training:
run calibration batches with only the observers on, freeze the ranges, turn
fake quantization on.

``FakeQuantLinear(linear, bits)``: weight per tensor, symmetric, signed
(-2^(b-1) .. 2^(b-1)-1, zero point 0, so an integer kernel needs no weight
offset); input per tensor, affine, unsigned (0 .. 2^b - 1, a moving-average
range); bias kept in float. Observers follow PyTorch's default QAT choices.
"""
from minigrad import functions as F
from minigrad.nn.layers import Linear
from minigrad.nn.module import Module, Sequential
from minigrad.quantization.modules import FakeQuantize
from minigrad.quantization.observer import MinMaxObserver, MovingAverageMinMaxObserver


class FakeQuantLinear(Module):
    """y = fq_in(x) @ fq_w(W)^T + b, sharing ``linear``'s Parameters."""

    def __init__(self, linear, bits=8):
        super().__init__()
        if not 2 <= bits <= 8:
            raise ValueError(f"FakeQuantLinear: bits must be between 2 and 8, got {bits}")
        self.in_features, self.out_features, self.bits = linear.in_features, linear.out_features, bits
        self.weight, self.bias = linear.weight, linear.bias
        self.weight_fake_quant = FakeQuantize(
            observer=MinMaxObserver, quant_min=-(2 ** (bits - 1)), quant_max=2 ** (bits - 1) - 1,
            dtype="qint8", qscheme="per_tensor_symmetric")
        self.input_fake_quant = FakeQuantize(
            observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=2**bits - 1, dtype="quint8")

    def forward(self, x):
        w = self.weight_fake_quant(self.weight)        # (out, in)
        x = self.input_fake_quant(x)                   # (B, in)
        return F.linear(x, w, self.bias)               # (B, out)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}"


def fake_quant_model(model, bits=8):
    """A Sequential with every Linear of ``model`` (a Sequential) replaced by a FakeQuantLinear on its weights."""
    if not isinstance(model, Sequential):
        raise TypeError(f"fake_quant_model: expects an nn.Sequential, got {type(model).__name__}")
    return Sequential(*[FakeQuantLinear(m, bits) if isinstance(m, Linear) else m for m in model])


def set_observers(model, enabled):
    """Turn every observer of a fake-quant model on (calibrate / QAT) or off (frozen ranges)."""
    for m in model.modules():
        if isinstance(m, FakeQuantize):
            m.enable_observer(enabled)


def set_fake_quant(model, enabled):
    """Turn fake quantization on or off everywhere (off: calibration only sees float values)."""
    for m in model.modules():
        if isinstance(m, FakeQuantize):
            m.enable_fake_quant(enabled)
