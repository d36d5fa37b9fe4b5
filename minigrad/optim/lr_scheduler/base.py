"""The scheduler base class: a learning rate as a function of the optimizer step count.

A scheduler rewrites ``group["lr"]`` of every parameter group. Every schedule here
except ``ReduceLROnPlateau`` is a closed-form function of the step count t
(``last_epoch``, PyTorch's name for it, even though it counts optimizer steps
when ``scheduler.step()`` is called once per ``optimizer.step()``) and of each
group's base lr (``initial_lr``, the lr the group had when the first scheduler was
built). Being closed-form, a schedule can be evaluated at any t, resumed from a
checkpoint, or chained (``SequentialLR``) without replaying the steps before.

Usage, as in PyTorch: build it right after the optimizer (that sets lr_0), then
``optimizer.step(); scheduler.step()`` in the loop.
"""


class LRScheduler:
    """Base class: a subclass gives ``lr_at(base_lr, t)``, or ``lrs_at(t)`` for all groups at once."""

    def __init__(self, optimizer, last_epoch=-1, base_lrs=None):
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
        for group, lr in zip(self.optimizer.param_groups, self.lrs_at(t)):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer (whose own state_dict carries the current lrs)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the step count and write its lrs into the groups (whatever order things were rebuilt in).

        PyTorch's ``load_state_dict`` only restores the attributes; rewriting the
        groups as well means a scheduler built after ``optimizer.load_state_dict``
        (which resets the lr to step 0) still resumes where it stopped.
        """
        self._restore(state_dict)
        self._apply(self.last_epoch)

    def _restore(self, state_dict):
        """Put the saved attributes back, without touching the optimizer."""
        self.__dict__.update(state_dict)


def per_group(name, optimizer, value):
    """One value per parameter group: a list/tuple must have one per group, a scalar is repeated."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"expected {groups} values for {name}, got {len(value)}")
        return list(value)
    return [value] * groups
