"""SequentialLR: run one schedule, then the next from its own step 0, at given milestones.

With milestones m_1 < m_2 < ..., the k-th schedule (0-based) is in charge from
step m_k (m_0 = 0) and sees the local step t - m_k:

    lr_t = schedule_k.lr(t - m_k),   k = number of milestones <= t

The usual use is a warm-up followed by a decay: ``SequentialLR(opt, [LinearWarmup(opt, 5),
CosineAnnealingLR(opt, 95)], milestones=[5])``. The values equal PyTorch's SequentialLR.
"""
from bisect import bisect_right

from minigrad.optim.lr_scheduler.base import LRScheduler
from minigrad.optim.lr_scheduler.plateau import ReduceLROnPlateau


class SequentialLR(LRScheduler):
    """``SequentialLR(optimizer, schedulers, milestones, last_epoch=-1)``."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR does not support ReduceLROnPlateau (index {i}): its step needs a metric")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({type(scheduler).__name__}) belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {milestones}")
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        super().__init__(optimizer, last_epoch)

    def _active(self, t):
        """(the schedule in charge at step t, its local step)."""
        k = bisect_right(self._milestones, t)
        return self._schedulers[k], t - (self._milestones[k - 1] if k > 0 else 0)

    def lrs_at(self, t):
        scheduler, local_t = self._active(t)
        return scheduler.lrs_at(local_t)

    def step(self):
        """At a milestone the next schedule starts from its closed form at 0; in between it steps itself, as torch."""
        self.last_epoch += 1
        scheduler, local_t = self._active(self.last_epoch)
        if local_t == 0:
            self._apply(self.last_epoch)
        else:
            scheduler.step()
            self._last_lr = scheduler.get_last_lr()

    def _apply(self, t):
        scheduler, local_t = self._active(t)
        scheduler.last_epoch = local_t
        scheduler._apply(local_t)
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def _restore(self, state_dict):
        state_dict = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state_dict.pop("_schedulers")):
            scheduler._restore(saved)
        super()._restore(state_dict)
