"""Mixed-precision training: dynamic loss scaling and a float16/bfloat16 compute copy.

    from minigrad import amp
    net16 = amp.ComputeCopy(net, dtype="float16")    # fp32 master weights, fp16 compute
    scaler = amp.GradScaler()                          # torch.amp.GradScaler's state machine
    loss = F.cross_entropy(net16(X), y)
    scaler.scale(loss).backward(); scaler.step(opt); scaler.update()

Modules: grad_scaler.py (GradScaler), bfloat16.py (bf16 rounding emulated in
NumPy), compute_copy.py (the compute copy, Micikevicius et al. 2018).
"""
from minigrad.amp.bfloat16 import round_to_bfloat16
from minigrad.amp import bfloat16
from minigrad.amp.compute_copy import ComputeCopy
from minigrad.amp.grad_scaler import GradScaler, OptState

__all__ = ["ComputeCopy", "GradScaler", "OptState", "bfloat16", "round_to_bfloat16"]
