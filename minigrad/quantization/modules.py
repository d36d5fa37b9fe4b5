"""FakeQuantize (observer + fake quantization) and LearnableFakeQuantize (LSQ), as modules.

``FakeQuantize`` follows ``torch.ao.quantization.FakeQuantize``: while the
observer is enabled, each forward call records the input's range and refreshes
``scale``/``zero_point``; while fake quantization is enabled, the output is
``fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max)``.
The two switches give the usual schedules: calibration (observe only: this is
post-training quantization), QAT (both), and frozen ranges late in QAT (fake
quantize only; Jacob et al. 2018, section 3, and Krishnamoorthi 2018,
"Quantizing deep convolutional networks for efficient inference", section 3.5).
"""
import math

import numpy as np

from minigrad.nn.module import Module, Parameter
from minigrad.quantization.fake_quantize import fake_quantize_per_tensor_affine
from minigrad.quantization.lsq import fake_quantize_learnable_per_tensor_affine
from minigrad.quantization.observer import MovingAverageMinMaxObserver
from minigrad.tensor import Tensor


class FakeQuantize(Module):
    """``FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, **observer_kwargs)``."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise ValueError(f"FakeQuantize: quant_min ({quant_min}) must be <= quant_max ({quant_max})")
            observer_kwargs.update(quant_min=quant_min, quant_max=quant_max)
        self.activation_post_process = observer(**observer_kwargs)
        self.quant_min = self.activation_post_process.quant_min
        self.quant_max = self.activation_post_process.quant_max
        self.scale = np.float32([1.0])
        self.zero_point = np.int32([0])
        self.fake_quant_enabled = True
        self.observer_enabled = True

    def enable_fake_quant(self, enabled=True):
        self.fake_quant_enabled = enabled
        return self

    def disable_fake_quant(self):
        return self.enable_fake_quant(False)

    def enable_observer(self, enabled=True):
        self.observer_enabled = enabled
        return self

    def disable_observer(self):
        return self.enable_observer(False)

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, x):
        if self.observer_enabled:
            self.activation_post_process(x.detach())
            scale, zero_point = self.calculate_qparams()
            self.scale, self.zero_point = scale.data, zero_point.data
        if self.fake_quant_enabled:
            x = fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, self.quant_min, self.quant_max)
        return x

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"quant_min={self.quant_min}, quant_max={self.quant_max}, scale={self.scale}, zero_point={self.zero_point}")


class LearnableFakeQuantize(Module):
    """LSQ: a fake quantizer whose ``scale`` (and optionally ``zero_point``) are Parameters.

    ``LearnableFakeQuantize(quant_min, quant_max, use_grad_scaling=True, learn_zero_point=False)``.
    Before the first batch the scale is unset; the first forward call sets it
    with LSQ's initialisation S = 2 mean(|x|) / sqrt(Q_P) (Esser et al., section
    2.1) and the zero point to 0 (symmetric; unsigned ranges start at 0 too, for
    ReLU outputs). ``use_grad_scaling`` applies g = 1/sqrt(N Q_P) (section 2.2).
    """

    def __init__(self, quant_min=-128, quant_max=127, use_grad_scaling=True, learn_zero_point=False):
        super().__init__()
        if not quant_min <= 0 <= quant_max or quant_min >= quant_max:
            raise ValueError(f"LearnableFakeQuantize: [{quant_min}, {quant_max}] must include 0 and not be empty")
        self.quant_min, self.quant_max = quant_min, quant_max
        self.use_grad_scaling = use_grad_scaling
        self.scale = Parameter(np.float32([1.0]))
        zero = np.float32([0.0])  # a Parameter only when learned: optimizers refuse frozen Parameters
        self.zero_point = Parameter(zero) if learn_zero_point else Tensor(zero)
        self.initialized = False

    def forward(self, x):
        if not self.initialized:
            mean_abs = float(np.abs(x.data).mean())
            self.scale.data[...] = max(2 * mean_abs / math.sqrt(self.quant_max), float(np.finfo(np.float32).eps))
            self.initialized = True
        grad_factor = 1.0 / math.sqrt(x.data.size * self.quant_max) if self.use_grad_scaling else 1.0
        return fake_quantize_learnable_per_tensor_affine(
            x, self.scale, self.zero_point, self.quant_min, self.quant_max, grad_factor)

    def extra_repr(self):
        return f"quant_min={self.quant_min}, quant_max={self.quant_max}, scale={self.scale.data}"
