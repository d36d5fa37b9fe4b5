"""Schedules that go up and down: CyclicLR (Smith 2017) and OneCycleLR (Smith & Topin 2019).

Both can move momentum opposite to the lr ("cycle_momentum"): when the lr is high
the momentum is low, so the effective step lr / (1 - momentum) does not explode
(Smith 2018, "A disciplined approach to neural network hyper-parameters", sec. 4.3).
For Adam-like optimizers the "momentum" is beta1 (``group["betas"][0]``).
"""
import math
import types

from minigrad.optim.lr_scheduler.base import LRScheduler, per_group


def _momentum_setup(scheduler, optimizer, base_momentum, max_momentum):
    """Check the optimizer has a momentum (or beta1); keep the per-group bounds as plain attributes."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{type(scheduler).__name__}: optimizer must support momentum or beta1 with "
                         f"`cycle_momentum` option enabled")
    scheduler.use_beta1 = "betas" in optimizer.defaults
    scheduler.base_momentums = per_group(scheduler, "base_momentum", optimizer, base_momentum)
    scheduler.max_momentums = per_group(scheduler, "max_momentum", optimizer, max_momentum)


def _write_momentum(group, use_beta1, momentum):
    """The momentum of SGD, RMSprop, LARS, or beta1 of Adam and LAMB."""
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _start_at_max_momentum(scheduler, optimizer):
    """PyTorch's initialisation: every group starts at max_momentum and records both bounds."""
    for group, top, bottom in zip(optimizer.param_groups, scheduler.max_momentums, scheduler.base_momentums):
        _write_momentum(group, scheduler.use_beta1, top)
        group["max_momentum"], group["base_momentum"] = top, bottom


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith 2017, "Cyclical Learning Rates for Training Neural Networks", sec. 3.1).

    A triangle between base_lr and max_lr: up for ``step_size_up`` steps, down for
    ``step_size_down``; its height is scaled per cycle or per step:

        cycle = floor(1 + t / (up + down)),  x = 1 + t / (up + down) - cycle  (position in the cycle, [0, 1))
        s     = x / r if x <= r else (x - 1) / (r - 1),   r = up / (up + down)
        lr_t  = base_lr + (max_lr - base_lr) * s * scale
        scale = 1 (triangular) | 1 / 2^(cycle-1) (triangular2) | gamma^t (exp_range) | scale_fn(...)
        momentum_t = max_momentum - (max_momentum - base_momentum) * s * scale
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        if not step_size_up > 0 or not (step_size_down is None or step_size_down >= 0):
            raise ValueError(f"CyclicLR: step_size_up must be > 0 and step_size_down >= 0, "
                             f"got {step_size_up} and {step_size_down}")  # torch: ZeroDivisionError, or nonsense
        if scale_fn is not None and scale_mode not in ("cycle", "iterations"):  # torch: "iterations" silently
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        base_lrs = per_group(self, "base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = per_group(self, "max_lr", optimizer, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode {mode!r} is invalid and scale_fn is None")
        self.mode, self.gamma, self.scale_fn = mode, gamma, scale_fn
        self.scale_mode = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}.get(
            mode, scale_mode) if scale_fn is None else scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _momentum_setup(self, optimizer, base_momentum, max_momentum)
            if last_epoch == -1:
                _start_at_max_momentum(self, optimizer)
        super().__init__(optimizer, last_epoch, base_lrs=base_lrs)

    def _scale(self, x):
        if self.scale_fn is not None:
            return self.scale_fn(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _height_and_scale(self, t):
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        height = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        return height, self._scale(cycle if self.scale_mode == "cycle" else t)

    def lrs_at(self, t):
        height, scale = self._height_and_scale(t)
        return [base + (top - base) * height * scale for base, top in zip(self.base_lrs, self.max_lrs)]

    def _apply(self, t):
        super()._apply(t)
        if self.cycle_momentum:
            height, scale = self._height_and_scale(t)
            for group, bottom, top in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _write_momentum(group, self.use_beta1, top - (top - bottom) * height * scale)

    def state_dict(self):
        """As PyTorch: a plain-function ``scale_fn`` is saved as None, a callable object as its ``__dict__``."""
        state = super().state_dict()
        fn = state.pop("scale_fn")
        state["scale_fn"] = None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)
        return state

    def _restore(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop("scale_fn")
        if saved is not None:
            self.scale_fn.__dict__.update(saved)
        super()._restore(state_dict)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2019, "Super-Convergence", sec. 3; Smith 2018, sec. 4.1).

    Warm up from initial_lr = max_lr / div_factor to max_lr over the first
    ``pct_start`` of ``total_steps``, then anneal to min_lr = initial_lr /
    final_div_factor; ``three_phase`` goes back down to initial_lr first, then to
    min_lr (Smith's original shape). Each phase interpolates from its start to its
    end value with

        cos:    end + (start - end) * (1 + cos(pi * pct)) / 2
        linear: start + (end - start) * pct,      pct = progress through the phase

    and momentum follows the mirror image (max_momentum -> base_momentum -> max_momentum).
    The phase boundaries are PyTorch's (step pct_start * total_steps - 1, ...), and
    stepping past ``total_steps`` raises, as in PyTorch.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise ValueError(f"OneCycleLR: expected positive integer {name}, but got {value}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        up_end = float(pct_start * self.total_steps) - 1
        # (last step of the phase, lr from, lr to, momentum from, momentum to): names of group entries
        if three_phase:
            self.phases = [(up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                            "base_momentum", "max_momentum"),
                           (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        if last_epoch == -1:
            max_lrs = per_group(self, "max_lr", optimizer, max_lr)
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _momentum_setup(self, optimizer, base_momentum, max_momentum)
            if last_epoch == -1:
                _start_at_max_momentum(self, optimizer)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _phase_at(self, t):
        """(phase, pct): the phase step t falls in and the progress through it."""
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; the specified number of total steps "
                             f"is {self.total_steps}")
        start = 0.0
        for i, phase in enumerate(self.phases):
            end = phase[0]
            if t <= end or i == len(self.phases) - 1:
                return phase, (t - start) / (end - start)
            start = end

    def lrs_at(self, t):
        (_, lr_from, lr_to, _, _), pct = self._phase_at(t)
        return [self._anneal(group[lr_from], group[lr_to], pct) for group in self.optimizer.param_groups]

    def _apply(self, t):
        super()._apply(t)
        if self.cycle_momentum:
            (_, _, _, m_from, m_to), pct = self._phase_at(t)
            for group in self.optimizer.param_groups:
                _write_momentum(group, self.use_beta1, self._anneal(group[m_from], group[m_to], pct))
