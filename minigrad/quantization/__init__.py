"""Quantization: PyTorch's fake-quantize ops, observers, FakeQuantize, LSQ, and a real int8 path.

    from minigrad import quantization as Q
    y = Q.fake_quantize_per_tensor_affine(x, scale=0.05, zero_point=128, quant_min=0, quant_max=255)
    obs = Q.MinMaxObserver(dtype="quint8"); obs(x); scale, zp = obs.calculate_qparams()

Modules: fake_quantize.py (the two ops), observer.py (MinMaxObserver,
MovingAverageMinMaxObserver), modules.py (FakeQuantize, LearnableFakeQuantize),
lsq.py (the learnable-scale op), qat.py (QAT/PTQ of a Linear stack), int8.py
(integer inference).
"""
from minigrad.quantization.fake_quantize import (
    fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine, integer_codes,
)
from minigrad.quantization.int8 import Int8Linear, Int8Model
from minigrad.quantization.lsq import fake_quantize_learnable_per_tensor_affine
from minigrad.quantization.modules import FakeQuantize, LearnableFakeQuantize
from minigrad.quantization.observer import MinMaxObserver, MovingAverageMinMaxObserver
from minigrad.quantization.qat import FakeQuantLinear, fake_quant_model, set_fake_quant, set_observers

__all__ = [
    "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine",
    "fake_quantize_learnable_per_tensor_affine",
    "MinMaxObserver", "MovingAverageMinMaxObserver", "FakeQuantize", "LearnableFakeQuantize",
    "integer_codes", "FakeQuantLinear", "fake_quant_model", "set_fake_quant", "set_observers",
    "Int8Linear", "Int8Model",
]
