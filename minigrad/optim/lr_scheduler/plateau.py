"""ReduceLROnPlateau: cut the lr when a monitored metric stops improving (``torch``'s state machine).

Not a formula in t: it watches a number (a validation loss, an accuracy) passed to
``step(metric)`` once per evaluation, and keeps

    best             the best value so far
    num_bad_epochs   evaluations since the last improvement
    cooldown_counter evaluations left during which bad ones are not counted

A value improves on ``best`` when it beats it by more than ``threshold``:

    mode="min", rel:  value < best * (1 - threshold)     abs:  value < best - threshold
    mode="max", rel:  value > best * (1 + threshold)     abs:  value > best + threshold

After more than ``patience`` bad evaluations in a row every group's lr becomes
max(lr * factor, min_lr) (changes smaller than ``eps`` are skipped), the counter
resets and ``cooldown`` evaluations are ignored. This is the heuristic of Keras'
callback and PyTorch's scheduler; the "reduce on plateau" practice goes back at
least to Krizhevsky et al. 2012 (sec. 5: "divide the learning rate by 10 when
the validation error rate stopped improving").
"""
import math

from minigrad.optim.lr_scheduler.base import LRScheduler, check_optimizer


class ReduceLROnPlateau(LRScheduler):
    """``ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
    threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8)``; ``step(metrics)``."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        check_optimizer(self, optimizer)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        # torch accepts these; a negative (or NaN) one silently breaks the schedule
        for name, value in (("factor", factor), ("patience", patience), ("threshold", threshold),
                            ("cooldown", cooldown), ("eps", eps)):
            if not value >= 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be >= 0, got {value}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown (expected 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown (expected 'rel' or 'abs')")
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(f"ReduceLROnPlateau: expected {groups} min_lrs, got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * groups
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def is_better(self, value, best):
        if self.mode == "min":
            return value < best * (1 - self.threshold) if self.threshold_mode == "rel" else value < best - self.threshold
        return value > best * (1 + self.threshold) if self.threshold_mode == "rel" else value > best + self.threshold

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics):
        """Record one evaluation of the monitored metric; maybe reduce every group's lr."""
        value = float(metrics)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad evaluations during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but min_lr was given for "
                    f"{len(self.min_lrs)} (a group was added later?): set scheduler.min_lrs to one per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def lrs_at(self, t):
        raise TypeError("ReduceLROnPlateau: the lr depends on the metrics seen, not on the step count alone")

    def get_lr(self):
        return self.get_last_lr()

    def _apply(self, t):
        """On reload: write back the lrs the reductions had reached (they are not a function of t)."""
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr
