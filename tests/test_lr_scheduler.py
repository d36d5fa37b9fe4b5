"""optim.lr_scheduler against torch.optim.lr_scheduler, one optimizer step at a time."""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler

BASE_LRS = (0.1, 0.03)


def two_group_optimizers(kind="SGD"):
    """The same two-group optimizer in minigrad and torch (SGD with momentum, or Adam for beta1 cycling)."""
    def build(module, make_param):
        groups = [{"params": [make_param()], "lr": BASE_LRS[0]}, {"params": [make_param()], "lr": BASE_LRS[1]}]
        if kind == "Adam":
            return module.Adam(groups, lr=1.0)
        return module.SGD(groups, lr=1.0, momentum=0.9)
    return (build(optim, lambda: mg.tensor(np.ones(2), requires_grad=True)),
            build(torch.optim, lambda: torch.ones(2, requires_grad=True)))


def group_values(opt):
    """Per group: lr and momentum (or beta1), the two things a schedule writes."""
    return [[g["lr"], g["betas"][0] if "betas" in g else g["momentum"]] for g in opt.param_groups]


def trajectories(make_ours, make_theirs, num_steps=200, kind="SGD"):
    ours_opt, theirs_opt = two_group_optimizers(kind)
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)
    ours_values, theirs_values = [group_values(ours_opt)], [group_values(theirs_opt)]
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    for _ in range(num_steps):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        ours_values.append(group_values(ours_opt))
        theirs_values.append(group_values(theirs_opt))
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
    return np.array(ours_values), np.array(theirs_values)


def decay_per_step(t):
    return 0.97 ** t


def bumpy(t):
    return 1 + 0.5 * math.sin(t / 7)


class HalvingEvery:
    """A callable object with state of its own: LambdaLR's state_dict saves its __dict__."""

    def __init__(self, period):
        self.period = period

    def __call__(self, t):
        return 0.5 ** (t // self.period)


S, T = lr_scheduler, torch.optim.lr_scheduler
CASES = {
    "step": (lambda o: S.StepLR(o, step_size=7, gamma=0.5), lambda o: T.StepLR(o, step_size=7, gamma=0.5)),
    "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=25), lambda o: T.CosineAnnealingLR(o, T_max=25)),
    "cosine-eta-min": (lambda o: S.CosineAnnealingLR(o, T_max=200, eta_min=0.01),
                       lambda o: T.CosineAnnealingLR(o, T_max=200, eta_min=0.01)),
    "warmup": (lambda o: S.LinearWarmup(o, warmup_steps=10, start_factor=1 / 32),
               lambda o: T.LinearLR(o, start_factor=1 / 32, end_factor=1.0, total_iters=10)),
    "warmup-defaults": (lambda o: S.LinearWarmup(o, warmup_steps=5), lambda o: T.LinearLR(o, total_iters=5)),
    "lambda": (lambda o: S.LambdaLR(o, decay_per_step), lambda o: T.LambdaLR(o, decay_per_step)),
    "lambda-per-group": (lambda o: S.LambdaLR(o, [decay_per_step, bumpy]),
                         lambda o: T.LambdaLR(o, [decay_per_step, bumpy])),
    "onecycle-cos": (lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=200),
                     lambda o: T.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=200)),
    "onecycle-linear-no-momentum": (
        lambda o: S.OneCycleLR(o, 0.8, epochs=10, steps_per_epoch=20, anneal_strategy="linear", cycle_momentum=False,
                               pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
        lambda o: T.OneCycleLR(o, 0.8, epochs=10, steps_per_epoch=20, anneal_strategy="linear", cycle_momentum=False,
                               pct_start=0.25, div_factor=10.0, final_div_factor=100.0)),
    "onecycle-three-phase": (
        lambda o: S.OneCycleLR(o, 1.0, total_steps=200, three_phase=True, base_momentum=0.8, max_momentum=0.99),
        lambda o: T.OneCycleLR(o, 1.0, total_steps=200, three_phase=True, base_momentum=0.8, max_momentum=0.99)),
    "onecycle-linear-three-phase": (
        lambda o: S.OneCycleLR(o, 1.0, total_steps=250, three_phase=True, anneal_strategy="linear"),
        lambda o: T.OneCycleLR(o, 1.0, total_steps=250, three_phase=True, anneal_strategy="linear")),
    "cyclic-triangular": (lambda o: S.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=15),
                          lambda o: T.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=15)),
    "cyclic-triangular2": (
        lambda o: S.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=10, step_size_down=25, mode="triangular2"),
        lambda o: T.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=10, step_size_down=25, mode="triangular2")),
    "cyclic-exp-range": (
        lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=12, mode="exp_range", gamma=0.995, base_momentum=0.7),
        lambda o: T.CyclicLR(o, 0.01, 0.1, step_size_up=12, mode="exp_range", gamma=0.995, base_momentum=0.7)),
    "cyclic-scale-fn-iterations": (
        lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=9, scale_fn=bumpy, scale_mode="iterations",
                             cycle_momentum=False),
        lambda o: T.CyclicLR(o, 0.01, 0.1, step_size_up=9, scale_fn=bumpy, scale_mode="iterations",
                             cycle_momentum=False)),
    "sequential-warmup-cosine": (
        lambda o: S.SequentialLR(o, [S.LinearWarmup(o, 10, start_factor=0.1), S.CosineAnnealingLR(o, 190)], [10]),
        lambda o: T.SequentialLR(o, [T.LinearLR(o, 0.1, total_iters=10), T.CosineAnnealingLR(o, 190)], [10])),
    "sequential-three": (
        lambda o: S.SequentialLR(o, [S.LambdaLR(o, decay_per_step), S.StepLR(o, 20, 0.5),
                                     S.CosineAnnealingLR(o, 50, eta_min=0.001)], [30, 120]),
        lambda o: T.SequentialLR(o, [T.LambdaLR(o, decay_per_step), T.StepLR(o, 20, 0.5),
                                     T.CosineAnnealingLR(o, 50, eta_min=0.001)], [30, 120])),
}
ADAM_CASES = {
    "onecycle-betas": (lambda o: S.OneCycleLR(o, 0.01, total_steps=200, pct_start=0.4),
                       lambda o: T.OneCycleLR(o, 0.01, total_steps=200, pct_start=0.4)),
    "cyclic-betas": (lambda o: S.CyclicLR(o, 1e-4, 1e-2, step_size_up=20, mode="triangular2"),
                     lambda o: T.CyclicLR(o, 1e-4, 1e-2, step_size_up=20, mode="triangular2")),
}


@pytest.mark.parametrize("case", CASES)
def test_scheduler_values_match_torch_for_200_steps(case):
    ours, theirs = trajectories(*CASES[case])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", ADAM_CASES)
def test_cycled_beta1_matches_torch_for_200_steps(case):
    ours, theirs = trajectories(*ADAM_CASES[case], kind="Adam")
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert np.ptp(ours[:, 0, 1]) > 0.05   # beta1 really moved


def scripted_metric(num_steps=200):
    """A loss curve with descents, plateaus (flat and noisy) and a bump, reproducible."""
    rng = np.random.default_rng(7)
    t = np.arange(num_steps)
    curve = np.where(t < 40, 2.0 - 0.03 * t, 0.8)                 # descent, then a flat plateau
    curve = np.where((t >= 70) & (t < 100), 0.8 - 0.01 * (t - 70), curve)
    curve = np.where(t >= 100, 0.5 + 0.002 * rng.standard_normal(num_steps), curve)  # a noisy plateau
    curve[150:160] += 0.3                                          # a bump
    return curve


PLATEAU_SETTINGS = [
    dict(mode="min", patience=5, cooldown=3, factor=0.5, min_lr=[0.004, 0.0]),
    dict(mode="min", threshold_mode="abs", threshold=0.01, patience=2, min_lr=0.005),
    dict(mode="max", patience=4, cooldown=1, factor=0.3),
    dict(mode="max", threshold_mode="abs", threshold=0.05, patience=0, cooldown=10, factor=0.7, eps=1e-3),
    dict(mode="min", patience=3, factor=0.9, eps=0.005),
]


@pytest.mark.parametrize("settings", PLATEAU_SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_reduce_lr_on_plateau_matches_torch_for_200_steps(settings):
    ours_opt, theirs_opt = two_group_optimizers()
    ours, theirs = S.ReduceLROnPlateau(ours_opt, **settings), T.ReduceLROnPlateau(theirs_opt, **settings)
    metric = scripted_metric()
    if settings["mode"] == "max":
        metric = 3.0 - metric  # an accuracy-like curve: higher is better
    ours_lrs, theirs_lrs = [], []
    for value in metric:
        ours.step(value)
        theirs.step(value)
        ours_lrs.append(ours.get_last_lr())
        theirs_lrs.append(theirs.get_last_lr())
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == \
               (theirs.num_bad_epochs, theirs.cooldown_counter, theirs.best)
    np.testing.assert_allclose(ours_lrs, theirs_lrs, rtol=1e-12, atol=1e-15)
    assert len(set(np.array(ours_lrs)[:, 0])) >= 3   # the script really triggers several reductions


def test_cosine_closed_form_ends_at_eta_min_and_is_half_way_at_half_time():
    opt, _ = two_group_optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.002)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(10):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == BASE_LRS[0]
    np.testing.assert_allclose(lrs[5], (BASE_LRS[0] + 0.002) / 2, rtol=1e-14)
    np.testing.assert_allclose(lrs[10], 0.002, rtol=1e-14)


def values_over_next_steps(opt, sched, num_steps, metric=None):
    used = []
    for i in range(num_steps):
        used.append(group_values(opt))  # what this optimizer step runs with
        opt.step()
        sched.step() if metric is None else sched.step(metric[i])
    return used


@pytest.mark.parametrize("case", list(CASES) + list(ADAM_CASES) + ["plateau"])
def test_state_dict_resumes_the_same_trajectory(case, tmp_path):
    kind = "Adam" if case in ADAM_CASES else "SGD"
    metric = scripted_metric() if case == "plateau" else None
    make = (lambda o: S.ReduceLROnPlateau(o, patience=3, cooldown=2, factor=0.5)) if case == "plateau" \
        else {**CASES, **ADAM_CASES}[case][0]
    opt, _ = two_group_optimizers(kind)
    sched = make(opt)
    values_over_next_steps(opt, sched, 57, metric)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    expected = values_over_next_steps(opt, sched, 40, None if metric is None else metric[57:])
    mg.save(sched_state, tmp_path / "scheduler.mg")                 # plain data: no pickled objects needed
    sched_state = mg.load(tmp_path / "scheduler.mg")

    opt2, _ = two_group_optimizers(kind)           # rebuilt in the natural order:
    opt2.load_state_dict(opt_state)                # optimizer, its state,
    sched2 = make(opt2)
    sched2.load_state_dict(sched_state)            # scheduler, its state
    assert values_over_next_steps(opt2, sched2, 40, None if metric is None else metric[57:]) == expected
    assert len({tuple(v[0]) for v in expected}) > 1 or case.startswith("warmup") or case == "plateau"


def test_lambda_lr_state_dict_keeps_a_callable_objects_state():
    opt, _ = two_group_optimizers()
    sched = S.LambdaLR(opt, HalvingEvery(5))
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"period": 5}, {"period": 5}]
    opt2, _ = two_group_optimizers()
    sched2 = S.LambdaLR(opt2, [decay_per_step, HalvingEvery(1)])
    sched2.load_state_dict({**state, "lr_lambdas": [None, {"period": 5}]})
    assert sched2.lr_lambdas[1].period == 5 and sched2.lr_lambdas[0] is decay_per_step


def test_onecycle_past_total_steps_raises_like_torch():
    opt, _ = two_group_optimizers()
    sched = S.OneCycleLR(opt, 1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times; the specified number of total steps is 3"):
        sched.step()


def test_cycle_momentum_needs_an_optimizer_with_momentum():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        S.CyclicLR(optim.Adagrad([p]), 0.01, 0.1)


def test_sequential_lr_rejects_plateau_and_mismatched_milestones():
    opt, _ = two_group_optimizers()
    warm, plateau = S.LinearWarmup(opt, 5), S.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="does not support ReduceLROnPlateau"):
        S.SequentialLR(opt, [warm, plateau], [5])
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        S.SequentialLR(opt, [warm, S.StepLR(opt, 3)], [5, 9])


def test_resuming_without_initial_lr_raises():
    opt, _ = two_group_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=4)


def test_linear_scaling_rule_is_goyal_et_al_example():
    # Goyal et al. 2017 use lr = 0.1 * kn / 256: 3.2 for a batch of kn = 8192.
    assert math.isclose(lr_scheduler.linear_scaling_rule(0.1, batch_size=8192), 3.2, rel_tol=1e-15)


def test_invalid_schedule_arguments_raise():
    opt, _ = two_group_optimizers()
    with pytest.raises(ValueError, match="warmup_steps must be a positive integer, got 0"):
        lr_scheduler.LinearWarmup(opt, warmup_steps=0)
    with pytest.raises(ValueError, match="T_max must be positive"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
