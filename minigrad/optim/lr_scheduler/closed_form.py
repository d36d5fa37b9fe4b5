"""Schedules that are a formula in the step t and the group's base lr.

    LambdaLR           lr_t = base * lr_lambda(t)
    StepLR             lr_t = base * gamma ^ floor(t / step_size)
    CosineAnnealingLR  lr_t = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
    LinearWarmup       lr_t = base * (f + (1 - f) * min(t, warmup_steps) / warmup_steps)
"""
import math
import types

from minigrad.optim.lr_scheduler.base import ChainableLRScheduler, LRScheduler, per_group


class LambdaLR(LRScheduler):
    """lr_t = base * lr_lambda(t): any schedule given as a function of the step (one, or one per group).

    ``state_dict`` cannot save a plain function; like PyTorch it saves ``None`` in
    its place, and the ``__dict__`` of a callable object (so a stateful
    schedule object comes back with its state).
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        if isinstance(lr_lambda, (list, tuple)) and len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"LambdaLR: expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        self.lr_lambdas = per_group(self, "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be a function of the step, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def lrs_at(self, t):
        return [base_lr * fn(t) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def _restore(self, state_dict):
        state_dict = dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state_dict.pop("lr_lambdas")):
            if saved is not None:
                fn.__dict__.update(saved)
        super()._restore(state_dict)


class StepLR(ChainableLRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps: lr_t = base * gamma^floor(t / step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        if not gamma >= 0:  # torch accepts any gamma; a negative (or NaN) one makes the lr negative (or NaN)
            raise ValueError(f"StepLR: gamma must be >= 0, got {gamma}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)

    def next_lr(self, lr, base_lr, t):
        return lr * self.gamma if t > 0 and t % self.step_size == 0 else lr


class CosineAnnealingLR(ChainableLRScheduler):
    """Half a cosine from base to ``eta_min`` over ``T_max`` steps (Loshchilov & Hutter 2017, SGDR, eq. 5).

    lr_t = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2. Past T_max the
    cosine keeps going (back up), as PyTorch's does; SGDR's warm restarts are not here.
    Stepped as the ratio of consecutive closed forms applied to the current lr:
    lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max)),
    with PyTorch's additive step where the denominator vanishes (t - 1 = T_max mod 2 T_max).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not T_max > 0:  # torch accepts T_max <= 0 and divides by it
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2

    def next_lr(self, lr, base_lr, t):
        if t == 0:
            return lr
        if (t - 1 - self.T_max) % (2 * self.T_max) == 0:  # leaving the trough, where cos(pi (t-1) / T_max) = -1
            if base_lr is None:  # torch: a ValueError from zip(strict=True)
                raise ValueError("CosineAnnealingLR: a param group added after the scheduler was built "
                                 "has no base lr to climb back towards; build the scheduler after add_param_group")
            return lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        ratio = (1 + math.cos(math.pi * t / self.T_max)) / (1 + math.cos(math.pi * (t - 1) / self.T_max))
        return self.eta_min + ratio * (lr - self.eta_min)


class LinearWarmup(ChainableLRScheduler):
    """Gradual warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD", sec. 2.2).

    The lr climbs linearly from ``start_factor * base`` to ``base`` over
    ``warmup_steps`` optimizer steps, then stays at base:

        lr_t = base * (f + (1 - f) * min(t, warmup_steps) / warmup_steps)

    Goyal et al. pair it with the linear scaling rule: with k times the batch,
    use k times the lr (``linear_scaling_rule``), and start the warm-up from the
    small-batch lr, i.e. ``start_factor = 1/k``; they warm up over 5 epochs.
    Equal to ``torch.optim.lr_scheduler.LinearLR(opt, f, 1.0, warmup_steps)``.
    """

    def __init__(self, optimizer, warmup_steps, start_factor=1.0 / 3, last_epoch=-1):
        if int(warmup_steps) != warmup_steps or warmup_steps < 1:
            raise ValueError(f"LinearWarmup: warmup_steps must be a positive integer, got {warmup_steps}")
        if not 0.0 < start_factor <= 1.0:  # torch's LinearLR too: 0 would make every later step 0 * ratio
            raise ValueError(f"LinearWarmup: start_factor must lie in (0, 1], got {start_factor}")
        self.warmup_steps, self.start_factor = int(warmup_steps), start_factor
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        progress = min(t, self.warmup_steps) / self.warmup_steps
        return base_lr * (self.start_factor + (1 - self.start_factor) * progress)

    def next_lr(self, lr, base_lr, t):
        """lr_t / lr_{t-1} of the formula above, applied to the current lr."""
        f, n = self.start_factor, self.warmup_steps
        if t == 0:
            return lr * f
        if t > n:
            return lr
        return lr * (1 + (1 - f) / (n * f + (t - 1) * (1 - f)))


def linear_scaling_rule(lr, batch_size, base_batch_size=256):
    """Goyal et al. 2017, sec. 2.1: "when the minibatch size is multiplied by k, multiply the lr by k".

    ``lr`` is the learning rate tuned for ``base_batch_size``; returns the one for ``batch_size``.
    """
    if batch_size <= 0 or base_batch_size <= 0:
        raise ValueError(f"linear_scaling_rule: batch sizes must be positive, got {batch_size} and {base_batch_size}")
    return lr * batch_size / base_batch_size
