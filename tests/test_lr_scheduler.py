"""optim.lr_scheduler against torch.optim.lr_scheduler, one optimizer step at a time."""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler

BASE_LRS = (0.1, 0.03)


def two_group_optimizers():
    ours = optim.SGD([{"params": [mg.tensor(np.ones(2), requires_grad=True)], "lr": BASE_LRS[0]},
                      {"params": [mg.tensor(np.ones(2), requires_grad=True)], "lr": BASE_LRS[1]}], lr=1.0)
    theirs = torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)], "lr": BASE_LRS[0]},
                              {"params": [torch.ones(2, requires_grad=True)], "lr": BASE_LRS[1]}], lr=1.0)
    return ours, theirs


def lr_trajectories(make_ours, make_theirs, num_steps=60):
    ours_opt, theirs_opt = two_group_optimizers()
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)
    ours_lrs, theirs_lrs = [ours.get_last_lr()], [theirs.get_last_lr()]
    for _ in range(num_steps):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        ours_lrs.append([g["lr"] for g in ours_opt.param_groups])
        theirs_lrs.append(theirs.get_last_lr())
    return np.array(ours_lrs), np.array(theirs_lrs)


CASES = {
    "step": (lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
             lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    "cosine": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=25),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25)),
    "cosine-eta-min": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
                       lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.01)),
    "warmup": (lambda o: lr_scheduler.LinearWarmup(o, warmup_steps=10, start_factor=1 / 32),
               lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 32, end_factor=1.0, total_iters=10)),
    "warmup-defaults": (lambda o: lr_scheduler.LinearWarmup(o, warmup_steps=5),
                        lambda o: torch.optim.lr_scheduler.LinearLR(o, total_iters=5)),
}


@pytest.mark.parametrize("case", CASES)
def test_scheduler_learning_rates_match_torch(case):
    ours, theirs = lr_trajectories(*CASES[case])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


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


def test_scheduler_state_dict_resumes_the_same_trajectory():
    def lrs_used_by_the_next_steps(opt, sched, num_steps=5):
        used = []
        for _ in range(num_steps):
            used.append([g["lr"] for g in opt.param_groups])  # the lr this optimizer step runs with
            opt.step()
            sched.step()
        return used

    opt, _ = two_group_optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    lrs_used_by_the_next_steps(opt, sched, 4)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    expected = lrs_used_by_the_next_steps(opt, sched)

    opt2, _ = two_group_optimizers()              # rebuilt in the natural order:
    opt2.load_state_dict(opt_state)               # optimizer, its state,
    sched2 = lr_scheduler.StepLR(opt2, step_size=3, gamma=0.1)
    sched2.load_state_dict(sched_state)           # scheduler, its state
    assert lrs_used_by_the_next_steps(opt2, sched2) == expected
    assert expected[1] != expected[2]             # the window crosses a decay


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
