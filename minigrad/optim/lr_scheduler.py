"""Learning-rate schedules, stepped once per optimizer step.

A scheduler rewrites ``group["lr"]`` of every parameter group. Each one here is a
closed-form function of the step count t (``last_epoch``, PyTorch's name for it,
even though here it counts optimizer steps) and of the group's base learning rate
(``initial_lr``, the lr the group had when the scheduler was built):

    StepLR             lr_t = base * gamma ^ floor(t / step_size)
    CosineAnnealingLR  lr_t = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
    LinearWarmup       lr_t = base * (f + (1 - f) * min(t, warmup_steps) / warmup_steps)

Usage, as in PyTorch: build it right after the optimizer (that sets lr_0), then
``optimizer.step(); scheduler.step()`` in the loop.
"""
import math

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup", "linear_scaling_rule"]


class LRScheduler:
    """Base class: subclasses give ``lr_at(base_lr, t)``."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                    f"param_groups[{i}]['initial_lr'] (load the optimizer's state_dict first)"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__}.lr_at")

    def get_lr(self):
        """The learning rates of every group at the current step ``last_epoch``."""
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    def step(self):
        """Advance one optimizer step and write the new lr into every group."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer (whose own state_dict carries the current lrs)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the step count and write its lrs into the groups (whatever order things were rebuilt in)."""
        self.__dict__.update(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps: lr_t = base * gamma^floor(t / step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from base to ``eta_min`` over ``T_max`` steps (Loshchilov & Hutter 2017, SGDR, eq. 5).

    lr_t = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2. Past T_max the
    cosine keeps going (back up), as PyTorch's does; SGDR's warm restarts are not here.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
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
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: start_factor must lie in [0, 1], got {start_factor}")
        self.warmup_steps, self.start_factor = int(warmup_steps), start_factor
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, t):
        progress = min(t, self.warmup_steps) / self.warmup_steps
        return base_lr * (self.start_factor + (1 - self.start_factor) * progress)


def linear_scaling_rule(lr, batch_size, base_batch_size=256):
    """Goyal et al. 2017, sec. 2.1: "when the minibatch size is multiplied by k, multiply the lr by k".

    ``lr`` is the learning rate tuned for ``base_batch_size``; returns the one for ``batch_size``.
    """
    if batch_size <= 0 or base_batch_size <= 0:
        raise ValueError(f"linear_scaling_rule: batch sizes must be positive, got {batch_size} and {base_batch_size}")
    return lr * batch_size / base_batch_size
