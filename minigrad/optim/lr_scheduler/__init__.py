"""Learning-rate schedules, stepped once per optimizer step (``torch.optim.lr_scheduler``'s names and values).

    base.py         LRScheduler (overwrites the lr with a closed form in the step t),
                    ChainableLRScheduler (moves the current lr on: schedulers compose, as torch's)
    closed_form.py  LambdaLR, StepLR, CosineAnnealingLR, LinearWarmup, linear_scaling_rule
    cyclic.py       CyclicLR, OneCycleLR (with momentum cycled opposite to the lr)
    sequential.py   SequentialLR: one schedule after another (warm-up, then decay)
    plateau.py      ReduceLROnPlateau: driven by a monitored metric, not by t

Usage, as in PyTorch: build the scheduler right after the optimizer, then call
``optimizer.step(); scheduler.step()`` (``scheduler.step(val_loss)`` for
ReduceLROnPlateau). Every scheduler has ``state_dict()`` / ``load_state_dict()``.
"""
from minigrad.optim.lr_scheduler.base import ChainableLRScheduler, LRScheduler
from minigrad.optim.lr_scheduler.closed_form import (CosineAnnealingLR, LambdaLR, LinearWarmup, StepLR,
                                                     linear_scaling_rule)
from minigrad.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from minigrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from minigrad.optim.lr_scheduler.sequential import SequentialLR

__all__ = ["LRScheduler", "ChainableLRScheduler", "LambdaLR", "StepLR", "CosineAnnealingLR", "LinearWarmup", "CyclicLR", "OneCycleLR",
           "SequentialLR", "ReduceLROnPlateau", "linear_scaling_rule"]
