"""The scheduler base classes: a learning rate as a function of the optimizer step count.

A scheduler rewrites ``group["lr"]`` of every parameter group. Every schedule here
except ``ReduceLROnPlateau`` has a closed form in the step count t (``last_epoch``,
PyTorch's name for it, even though it counts optimizer steps when
``scheduler.step()`` is called once per ``optimizer.step()``) and each group's base
lr (``initial_lr``, the lr the group had when the first scheduler was built), so it
can be evaluated at any t, resumed from a checkpoint, or put in a ``SequentialLR``.

Two ways to step, as in PyTorch:
    LRScheduler           overwrites the lr with the closed form (LambdaLR, CyclicLR, OneCycleLR)
    ChainableLRScheduler  moves the lr the group has NOW to the next one (StepLR,
                          CosineAnnealingLR, LinearWarmup = torch's LinearLR), so two
                          of them on one optimizer compose, and an lr set by hand
                          (``param_groups[i]["lr"] = x``) is carried on from

Usage, as in PyTorch: build it right after the optimizer (that sets lr_0), then
``optimizer.step(); scheduler.step()`` in the loop.
"""


class LRScheduler:
    """Base class: a subclass gives ``lr_at(base_lr, t)``, or ``lrs_at(t)`` for all groups at once."""

    def __init__(self, optimizer, last_epoch=-1, base_lrs=None):
        check_optimizer(self, optimizer)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                    f"param_groups[{i}]['initial_lr'] (load the optimizer's state_dict first)"
                )
        self.base_lrs = list(base_lrs) if base_lrs is not None else [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step(resuming=last_epoch != -1)

    def _initial_step(self, resuming):
        """The step taken at construction: it writes the lr of step last_epoch + 1."""
        self.step()

    def lr_at(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__}.lr_at")

    def lrs_at(self, t):
        """The learning rates of every group at step t."""
        return [self.lr_at(base_lr, t) for base_lr in self.base_lrs]

    def get_lr(self):
        """The learning rates of every group at the current step ``last_epoch``."""
        return self.lrs_at(self.last_epoch)

    def step(self):
        """Advance one optimizer step and write the new lr into every group."""
        self.last_epoch += 1
        self._apply(self.last_epoch)

    def _apply(self, t):
        """Write the lrs of step t into the groups (a subclass may also write momentum)."""
        added = len(self.optimizer.param_groups) - len(self.base_lrs)
        if added:  # torch: a ValueError from zip(strict=True), or a KeyError
            raise ValueError(
                f"{type(self).__name__}: {added} param group(s) were added to the optimizer after this scheduler "
                f"was built, and it has no base lr for them; build the scheduler after add_param_group"
            )
        for group, lr in zip(self.optimizer.param_groups, self.lrs_at(t)):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer (whose own state_dict carries the current lrs)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the step count and write the checkpoint's lrs (``get_last_lr()``) into the groups.

        PyTorch's ``load_state_dict`` only restores the attributes; writing the lrs
        as well means a scheduler built after ``optimizer.load_state_dict`` (whose
        construction moves the lr) still resumes where it stopped. The cyclic
        schedules also write their momentum of that step. Chained schedulers: load
        them in the order they step, so the last one writes the final lr.
        """
        self._restore(state_dict)
        lrs = list(self._last_lr)
        self._apply(self.last_epoch)
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def _restore(self, state_dict):
        """Put the saved attributes back, without touching the optimizer."""
        self.__dict__.update(state_dict)


class ChainableLRScheduler(LRScheduler):
    """Steps by ``next_lr(lr, base_lr, t)``: the lr of step t from the group's lr now (torch's recursive form).

    Without interference the result equals the closed form ``lr_at`` (to rounding).
    With another scheduler on the same optimizer, or an lr changed by hand, it
    carries on from whatever lr the group has, exactly as PyTorch's schedulers of
    the same name do. The closed form is still used where there is no current lr
    to start from: a scheduler built to resume (``last_epoch >= 0``) and
    ``SequentialLR``'s milestones.
    """

    def next_lr(self, lr, base_lr, t):
        """The lr of step t from the group's current ``lr``; ``base_lr`` is None for a group added later."""
        raise NotImplementedError(f"{type(self).__name__}.next_lr")

    def _initial_step(self, resuming):
        if resuming:
            super().step()  # the closed form at last_epoch + 1
        else:
            self.step()

    def step(self):
        self.last_epoch += 1
        groups = self.optimizer.param_groups
        base_lrs = self.base_lrs + [None] * (len(groups) - len(self.base_lrs))  # None: a group added later
        for group, base_lr in zip(groups, base_lrs):
            group["lr"] = self.next_lr(group["lr"], base_lr, self.last_epoch)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def check_optimizer(scheduler, optimizer):
    """torch's TypeError for a scheduler given something that is not an optimizer."""
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{type(scheduler).__name__}: {type(optimizer).__name__} is not an Optimizer")


def per_group(scheduler, name, optimizer, value):
    """One value per parameter group: a list/tuple must have one per group, a scalar is repeated."""
    check_optimizer(scheduler, optimizer)
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"{type(scheduler).__name__}: expected {groups} values for {name}, got {len(value)}")
        return list(value)
    return [value] * groups
