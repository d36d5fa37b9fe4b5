"""Real integer inference for a fake-quantized Linear stack: int8 x int8 products, int32 sums.

Jacob et al. 2018, section 2.2, eq. 4-7: with x = S_x (q_x - Z_x) and
W = S_w q_w (symmetric weights, Z_w = 0),

    y_i = sum_k x_k W_ik + b_i = S_x S_w * sum_k (q_x,k - Z_x) q_w,ik + b_i

The sum is over integers: products of 8-bit codes fit in 16 bits and their sum
is accumulated exactly in int32 (NumPy's ``int8 @ int8`` would accumulate in
int8 and wrap around, so the codes are widened first). One float multiply per
output then rescales it. This computes the same real number as the
fake-quantized float layer, more exactly: the float layer rounds every partial
sum to float32, the integer layer rounds only once. So the two agree to
float32 rounding, and a ReLU network's next-layer codes and predictions agree
except where a value falls within that rounding of a code boundary: there the
two paths pick neighbouring codes (one step apart), and the difference then
travels on through the later layers. ``Int8Model.run`` returns the codes so
that this can be counted.
"""
import numpy as np

from minigrad.nn.module import Sequential
from minigrad.quantization.fake_quantize import integer_codes
from minigrad.quantization.qat import FakeQuantLinear
from minigrad.tensor import Tensor

_INT32_MAX = 2**31 - 1


class Int8Linear:
    """Frozen integer version of a FakeQuantLinear (call it on float32 NumPy arrays)."""

    def __init__(self, layer):
        wq, xq = layer.weight_fake_quant, layer.input_fake_quant
        self.w_scale, self.x_scale = np.float32(wq.scale[0]), np.float32(xq.scale[0])
        self.x_zero_point = int(xq.zero_point[0])
        if int(wq.zero_point[0]) != 0:
            raise ValueError("Int8Linear: the weight quantizer must be symmetric (zero point 0)")
        self.x_range = (xq.quant_min, xq.quant_max)
        codes = integer_codes(layer.weight.data, self.w_scale, 0, wq.quant_min, wq.quant_max)
        self.q_weight = codes.astype(np.int8)                          # (out, in)
        self.bias = None if layer.bias is None else layer.bias.data.copy()
        worst = layer.in_features * max(abs(xq.quant_max - self.x_zero_point), self.x_zero_point - xq.quant_min) * 128
        if worst > _INT32_MAX:
            raise ValueError(f"Int8Linear: {layer.in_features} inputs could overflow the int32 accumulator")

    def quantize_input(self, x):
        q = integer_codes(x, self.x_scale, self.x_zero_point, *self.x_range)
        return q.astype(np.uint8 if self.x_range[0] >= 0 else np.int8)  # (B, in): what the kernel reads

    def __call__(self, x):
        q_x = self.quantize_input(x).astype(np.int32) - self.x_zero_point   # (B, in), int32
        acc = q_x @ self.q_weight.astype(np.int32).T                       # (B, out), exact int32 sums
        y = acc.astype(np.float32) * (self.x_scale * self.w_scale)         # (B, out) one rescale
        return y if self.bias is None else y + self.bias


class Int8Model:
    """Integer inference of a fake-quant Sequential: Int8Linear layers, ReLU in between."""

    def __init__(self, model):
        if not isinstance(model, Sequential):
            raise TypeError(f"Int8Model: expects the Sequential from fake_quant_model, got {type(model).__name__}")
        self.layers = []
        for m in model:
            if isinstance(m, FakeQuantLinear):
                self.layers.append(Int8Linear(m))
            elif type(m).__name__ == "ReLU":
                self.layers.append(lambda x: np.maximum(x, np.float32(0)))
            else:
                raise TypeError(f"Int8Model: no integer version of {type(m).__name__}")

    def __call__(self, x):
        return self.run(x)[0]

    def run(self, x):
        """(output, [the integer input codes of each Int8Linear]): what the integer kernels read."""
        x = x.data if isinstance(x, Tensor) else x
        codes = []
        for layer in self.layers:
            if isinstance(layer, Int8Linear):
                codes.append(layer.quantize_input(x))
            x = layer(x)
        return x, codes
