"""Schedulers and GradScaler the way PyTorch users combine them, minigrad and torch side by side.

Two schedulers on one optimizer, an lr changed by hand between steps, get_last_lr(),
ReduceLROnPlateau next to a per-step schedule, every optimizer under a schedule,
and the mixed-precision loop ``scaler.step(opt); scaler.update(); scheduler.step()``.
Every lr, momentum and parameter is compared with torch after every step.
"""
import warnings

import numpy as np
import pytest
import torch
from optim_side_by_side import gradient_of, initial_values

import minigrad as mg
from minigrad import amp, optim
from minigrad.optim import lr_scheduler as S

T = torch.optim.lr_scheduler

# name -> (minigrad scheduler, torch scheduler), each a function of the optimizer
SCHEDULES = {
    "StepLR": (lambda o: S.StepLR(o, 3, gamma=0.5), lambda o: T.StepLR(o, 3, gamma=0.5)),
    "CosineAnnealingLR": (lambda o: S.CosineAnnealingLR(o, 7, eta_min=0.001),
                          lambda o: T.CosineAnnealingLR(o, 7, eta_min=0.001)),
    "LinearWarmup": (lambda o: S.LinearWarmup(o, 5, start_factor=0.2),
                     lambda o: T.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=5)),
    "LambdaLR": (lambda o: S.LambdaLR(o, lambda t: 0.9 ** t), lambda o: T.LambdaLR(o, lambda t: 0.9 ** t)),
    "CyclicLR": (lambda o: S.CyclicLR(o, 0.01, 0.2, step_size_up=4), lambda o: T.CyclicLR(o, 0.01, 0.2, step_size_up=4)),
    "OneCycleLR": (lambda o: S.OneCycleLR(o, 0.3, total_steps=40), lambda o: T.OneCycleLR(o, 0.3, total_steps=40)),
    "SequentialLR": (lambda o: S.SequentialLR(o, [S.LinearWarmup(o, 4, 0.25), S.CosineAnnealingLR(o, 10)], [4]),
                     lambda o: T.SequentialLR(o, [T.LinearLR(o, 0.25, total_iters=4), T.CosineAnnealingLR(o, 10)], [4])),
}
METRIC = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95] * 3


class Run:
    """One optimizer (SGD with momentum, or any other) and its schedulers, in minigrad and in torch."""

    def __init__(self, schedules, optimizer="SGD", **options):
        options = options or dict(lr=0.1, momentum=0.9)
        self.ours = [mg.tensor(v, requires_grad=True) for v in initial_values(0)]
        self.theirs = [torch.tensor(v, requires_grad=True) for v in initial_values(0)]
        self.opt = getattr(optim, optimizer)([{"params": self.ours[:1]}, {"params": self.ours[1:], "lr": 0.05}],
                                             **options)
        self.torch_opt = getattr(torch.optim, optimizer)([{"params": self.theirs[:1]},
                                                          {"params": self.theirs[1:], "lr": 0.05}], **options)
        self.scheds = [ours(self.opt) for ours, _ in schedules]
        self.torch_scheds = [theirs(self.torch_opt) for _, theirs in schedules]
        self.t = 0

    def step(self, metric=None):
        for a, b, g in zip(self.ours, self.theirs, gradient_of([p.data for p in self.ours], self.t)):
            a.grad, b.grad = mg.tensor(g), torch.tensor(g)
        self.opt.step()
        self.torch_opt.step()
        for ours, theirs in zip(self.scheds, self.torch_scheds):
            args = () if not isinstance(ours, S.ReduceLROnPlateau) else (metric,)
            ours.step(*args)
            theirs.step(*args)
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        self.t += 1
        self.assert_same()

    def set_lr(self, lr):
        self.opt.param_groups[0]["lr"] = self.torch_opt.param_groups[0]["lr"] = lr

    def assert_same(self):
        for key in ("lr", "momentum", "betas"):
            ours = [g.get(key) for g in self.opt.param_groups]
            theirs = [g.get(key) for g in self.torch_opt.param_groups]
            np.testing.assert_allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float),
                                       rtol=1e-12, atol=1e-15, err_msg=key)
        for a, b in zip(self.ours, self.theirs):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.fixture(autouse=True)
def quiet_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's "step order" and deprecation notes
        yield


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_then_step_lr_on_the_same_optimizer_compose_like_torch(name):
    run = Run([SCHEDULES[name], SCHEDULES["StepLR"]])
    for _ in range(16):
        run.step()


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LinearWarmup", "LambdaLR"])
def test_step_lr_then_schedule_on_the_same_optimizer_compose_like_torch(name):
    run = Run([SCHEDULES["StepLR"], SCHEDULES[name]])
    for _ in range(16):
        run.step()


@pytest.mark.parametrize("name", SCHEDULES)
def test_lr_set_by_hand_between_steps_continues_like_torch(name):
    run = Run([SCHEDULES[name]])
    for t in range(14):
        if t in (2, 9):
            run.set_lr(0.5 / (t + 1))
        run.step()


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LinearWarmup", "LambdaLR"])
def test_reduce_lr_on_plateau_next_to_a_per_step_schedule_like_torch(name):
    plateau = (lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1),
               lambda o: T.ReduceLROnPlateau(o, factor=0.5, patience=1))
    run = Run([SCHEDULES[name], plateau])
    for t in range(20):
        run.step(METRIC[t])
    assert run.scheds[1].num_bad_epochs == run.torch_scheds[1].num_bad_epochs


@pytest.mark.parametrize("optimizer, options", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.1)), ("AdamW", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1)), ("RMSprop", dict(lr=0.01, momentum=0.5)),
])
@pytest.mark.parametrize("name", ["CosineAnnealingLR", "OneCycleLR", "CyclicLR"])
def test_every_optimizer_under_a_schedule_like_torch(name, optimizer, options):
    if name != "CosineAnnealingLR" and optimizer == "Adagrad":  # no momentum to cycle: both refuse
        with pytest.raises(ValueError, match="momentum"):
            Run([SCHEDULES[name]], optimizer, **options)
        with pytest.raises(ValueError, match="momentum"):
            SCHEDULES[name][1](torch.optim.Adagrad([torch.zeros(1, requires_grad=True)]))
        return
    run = Run([SCHEDULES[name]], optimizer, **options)
    for _ in range(12):
        run.step()


def test_chained_schedulers_resume_from_their_state_dicts():
    run = Run([SCHEDULES["LinearWarmup"], SCHEDULES["StepLR"]])
    for _ in range(6):
        run.step()
    saved = run.opt.state_dict(), [s.state_dict() for s in run.scheds]
    expected = []
    for _ in range(6):
        run.step()
        expected.append([g["lr"] for g in run.opt.param_groups])
    resumed = Run([SCHEDULES["LinearWarmup"], SCHEDULES["StepLR"]])
    resumed.opt.load_state_dict(saved[0])
    for sched, state in zip(resumed.scheds, saved[1]):
        sched.load_state_dict(state)
    lrs = []
    for _ in range(6):
        resumed.opt.step()
        for sched in resumed.scheds:
            sched.step()
        lrs.append([g["lr"] for g in resumed.opt.param_groups])
    assert lrs == expected


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the overflowing steps
def test_grad_scaler_optimizer_and_scheduler_loop_like_torch():
    """scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); sched.step(), with overflows."""
    x = np.linspace(-1, 1, 24).reshape(6, 4).astype(np.float32)
    y = np.cos(3 * x).sum(axis=1).astype(np.float32)
    w0 = np.full(4, 0.1, np.float32)
    w, tw = mg.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = optim.SGD([w], lr=0.05, momentum=0.9), torch.optim.SGD([tw], lr=0.05, momentum=0.9)
    sched, tsched = S.StepLR(opt, 4, 0.5), T.StepLR(topt, 4, 0.5)
    scaler = amp.GradScaler(init_scale=2.0 ** 10, growth_interval=3)
    tscaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    for t in range(12):
        blow_up = float("inf") if t in (2, 7) else 1.0  # an overflowing step: skipped by both, scale backs off
        opt.zero_grad()
        topt.zero_grad()
        loss = (((mg.tensor(x) @ w) - mg.tensor(y)) ** 2).mean() * blow_up
        tloss = (((torch.tensor(x) @ tw) - torch.tensor(y)) ** 2).mean() * blow_up
        scaler.scale(loss).backward()
        tscaler.scale(tloss).backward()
        scaler.step(opt)
        tscaler.step(topt)
        scaler.update()
        tscaler.update()
        sched.step()
        tsched.step()
        assert scaler.get_scale() == tscaler.get_scale()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=2e-6, atol=1e-7)
    assert np.isfinite(w.data).all()


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LinearWarmup"])
def test_a_group_added_after_a_chainable_scheduler_is_stepped_like_torch(name):
    run = Run([SCHEDULES[name]])
    run.step()
    extra, textra = mg.tensor(np.ones(3), requires_grad=True), torch.ones(3, dtype=torch.float64, requires_grad=True)
    run.opt.add_param_group({"params": [extra], "lr": 0.3})
    run.torch_opt.add_param_group({"params": [textra], "lr": 0.3})
    for _ in range(6):  # torch moves the new group's lr on too (up to the cosine's trough, see below)
        run.step()


@pytest.mark.parametrize("name", ["LambdaLR", "CyclicLR", "OneCycleLR", "SequentialLR", "CosineAnnealingLR"])
def test_a_group_added_after_a_scheduler_that_needs_its_base_lr_raises_like_torch(name):
    run = Run([SCHEDULES[name]])
    run.opt.add_param_group({"params": [mg.tensor(np.ones(3), requires_grad=True)]})
    run.torch_opt.add_param_group({"params": [torch.ones(3, requires_grad=True)]})
    # the cosine needs its base lr when it leaves the trough, SequentialLR at its milestone
    steps = 8 if name in ("CosineAnnealingLR", "SequentialLR") else 1
    with pytest.raises((ValueError, KeyError)):
        for _ in range(steps):
            run.torch_scheds[0].step()
    with pytest.raises(ValueError, match="(LR|Warmup): .*added"):
        for _ in range(steps):
            run.scheds[0].step()
