"""Dynamic loss scaling: ``GradScaler``, the state machine of ``torch.amp.GradScaler``.

Why (Micikevicius et al. 2018, "Mixed Precision Training", section 3.2): in
float16 every gradient below 2^-24 (~6e-8) rounds to zero. Multiplying the
loss by a scale S multiplies every gradient of the backward pass by S (chain
rule), lifting small gradients into float16's range; dividing the float32
master gradients by S before the update gives back the true gradient. A too
large S overflows to inf, so the scale is found dynamically (section 3.2,
"choosing a scaling factor"; the schedule below is PyTorch's):

    every iteration:  g <- g / S  (unscale_);  found_inf = any(g not finite)
    found_inf:        skip the optimizer step;  S <- S * backoff_factor;  tracker <- 0
    otherwise:        step;  tracker <- tracker + 1
                      if tracker == growth_interval:  S <- S * growth_factor (if finite);  tracker <- 0

Per optimizer and per iteration the scaler moves READY -> UNSCALED -> STEPPED,
and ``update()`` sends every optimizer back to READY. As in PyTorch,
``unscale_`` twice, ``unscale_`` after ``step`` or ``step`` twice between two
``update()`` calls raise, and the scale is a float32 number (so the values it
takes are float32's). Under data parallelism the found-inf flag is reduced
with ``max`` across ranks, so every replica skips exactly the same steps even
when only one rank's gradients overflowed (e.g. before a compressed exchange).

    scaler = GradScaler()
    for X, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)                      # optional: only to clip true gradients
        clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)                          # skipped if any gradient is inf/NaN
        scaler.update()
"""
import enum
import sys
from collections import defaultdict

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor


class OptState(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state():
    return {"stage": OptState.READY, "found_inf": None}


class GradScaler:
    """``GradScaler(device="cpu", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``.

    ``device`` is accepted for PyTorch's signature (``torch.amp.GradScaler("cuda", ...)``);
    minigrad keeps the scale on the host whatever the device of the gradients.
    """

    def __init__(self, device="cpu", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if not isinstance(device, str):  # GradScaler(init_scale) written positionally
            raise TypeError(
                f"GradScaler: the first argument is the device (as in torch.amp.GradScaler), got {device!r}; "
                "pass init_scale= by keyword"
            )
        self._device = backend.check_device(device)
        self._enabled = enabled
        if enabled:
            # torch asserts the first two (an AssertionError) and accepts the rest, NaN included
            if not growth_factor > 1.0:
                raise ValueError(f"GradScaler: growth_factor must be > 1.0, got {growth_factor}")
            if not 0.0 < backoff_factor < 1.0:
                raise ValueError(f"GradScaler: backoff_factor must lie in (0, 1), got {backoff_factor}")
            if not 0.0 < init_scale < float("inf"):
                raise ValueError(f"GradScaler: init_scale must be a positive finite number, got {init_scale}")
            if int(growth_interval) != growth_interval or growth_interval < 1:
                raise ValueError(f"GradScaler: growth_interval must be a positive integer, got {growth_interval}")
        self._init_scale = init_scale
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._scale = None            # float32, created by the first scale() call
        self._growth_tracker = None   # consecutive clean steps since the last change of scale
        self._per_optimizer_states = defaultdict(_fresh_state)

    # ---- scaling the loss ----------------------------------------------------
    def scale(self, outputs):
        """``outputs * S`` for a Tensor, or for every Tensor in a (nested) list/tuple."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = int(self._init_growth_tracker)
        if isinstance(outputs, Tensor):
            return outputs * float(self._scale)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(t) for t in outputs)
        raise ValueError(f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, got {type(outputs).__name__}")

    def _check_started(self, funcname):
        if self._scale is None:
            raise RuntimeError(
                f"GradScaler.{funcname}: no scale yet. This may indicate your script did not use "
                "scaler.scale(loss or outputs) earlier in the iteration."
            )

    # ---- unscaling and the inf check -------------------------------------------
    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by S in place and record whether any is inf/NaN."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("GradScaler: unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler: unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))  # PyTorch: double reciprocal, then float
        found_inf = np.zeros(1, dtype=np.float32)
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if g.dtype == np.float16:
                    raise ValueError(
                        f"GradScaler.unscale_: attempting to unscale FP16 gradients (parameter of shape {p.shape}); "
                        "keep float32 master weights and cast a compute copy to float16 instead"
                    )
                xp = backend.get_array_module(g)
                if not bool(xp.isfinite(g).all()):
                    found_inf[0] = 1.0
                g *= g.dtype.type(inv_scale)
        _agree_across_ranks(found_inf)
        state["found_inf"] = found_inf
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless done already), then ``optimizer.step()`` unless a gradient was inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs or args:
            raise RuntimeError("GradScaler.step: closure use is not supported when GradScaler is enabled.")
        self._check_started("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("GradScaler: step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        retval = None
        if not state["found_inf"][0]:
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    # ---- adapting the scale ------------------------------------------------------
    def update(self, new_scale=None):
        """Back off after an overflow, grow after ``growth_interval`` clean steps; or set ``new_scale``."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            self._scale = np.float32(_as_scale(new_scale))
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("GradScaler.update: no inf checks were recorded prior to update() (call step first).")
            found_inf = sum(float(f[0]) for f in found)
            self._scale, self._growth_tracker = _next_scale(
                self._scale, self._growth_tracker, found_inf,
                self._growth_factor, self._backoff_factor, self._growth_interval,
            )
        self._per_optimizer_states = defaultdict(_fresh_state)

    # ---- inspection and checkpoints -------------------------------------------------
    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def is_enabled(self):
        return self._enabled

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def state_dict(self):
        """{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}; {} if disabled."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "GradScaler.load_state_dict: the state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = np.float32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker


def _next_scale(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """One step of the schedule, as PyTorch's ``_amp_update_scale_`` (factors applied in double, stored as float32)."""
    if found_inf:
        return np.float32(np.float64(scale) * backoff_factor), 0
    successful = tracker + 1
    if successful == growth_interval:
        grown = np.float32(np.float64(scale) * growth_factor)
        return (grown if np.isfinite(grown) else scale), 0
    return scale, successful


def _as_scale(new_scale):
    if isinstance(new_scale, Tensor):
        if new_scale.data.size != 1 or new_scale.requires_grad:
            raise ValueError(
                f"GradScaler.update: new_scale must be a float or a 1-element Tensor with requires_grad=False, "
                f"got shape {new_scale.shape}, requires_grad={new_scale.requires_grad}"
            )
        return new_scale.item()
    if isinstance(new_scale, (int, float, np.floating)):
        return float(new_scale)
    raise TypeError(f"GradScaler.update: new_scale must be a float or a 1-element Tensor, got {type(new_scale).__name__}")


def _agree_across_ranks(found_inf):
    """Under data parallelism, one rank's overflow makes every rank skip the step.

    ``distributed`` sits above ``amp`` in the layers, so amp does not import it:
    a program that trains across ranks has imported it already.
    """
    distributed = sys.modules.get("minigrad.distributed")
    if distributed is not None and distributed.get_world_size() > 1:
        distributed.all_reduce(found_inf, op="max")
