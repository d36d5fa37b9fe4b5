"""optim.Adam and optim.AdamW against torch.optim, step by step."""
import itertools

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def gradient_of(values, step):
    """A nonlinear, step-dependent gradient field computed in NumPy, fed to both frameworks."""
    return [np.sin(v * (1 + 0.1 * step)) + 0.5 * v - 0.3 + 0.05 * step for v in values]


def run_side_by_side(make_mg, make_torch, num_steps=20, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    mg_params = [mg.tensor(a, requires_grad=True) for a in init]
    torch_params = [torch.tensor(a, requires_grad=True) for a in init]
    mg_opt, torch_opt = make_mg(mg_params), make_torch(torch_params)
    for step in range(num_steps):
        for p, g in zip(mg_params, gradient_of([p.data for p in mg_params], step)):
            p.grad = mg.tensor(g)
        for p, g in zip(torch_params, gradient_of([p.detach().numpy() for p in torch_params], step)):
            p.grad = torch.tensor(g)
        mg_opt.step()
        torch_opt.step()
    return mg_opt, [p.data for p in mg_params], [p.detach().numpy() for p in torch_params]


SETTINGS = [dict(weight_decay=wd, amsgrad=ams, maximize=mx)
            for wd, ams, mx in itertools.product([0.0, 0.1], [False, True], [False, True])]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_adam_family_matches_torch_for_20_steps(name, settings):
    kwargs = dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, **settings)
    _, ours, theirs = run_side_by_side(lambda ps: getattr(optim, name)(ps, **kwargs),
                                       lambda ps: getattr(torch.optim, name)(ps, **kwargs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_adamw_default_decay_matches_torch_default():
    _, ours, theirs = run_side_by_side(lambda ps: optim.AdamW(ps, lr=0.01), lambda ps: torch.optim.AdamW(ps, lr=0.01))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_adam_first_step_moves_every_coordinate_by_lr():
    # Closed form: after one step m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so the step is lr*sign(g) (eps aside).
    p = mg.tensor(np.zeros(4), requires_grad=True)
    p.grad = mg.tensor(np.array([3.0, -0.2, 1e3, -7.0]))
    optim.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1, 0.1], rtol=1e-15)


def test_adam_state_dict_reload_continues_bit_identically():
    opt, ours, _ = run_side_by_side(lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
                                    lambda ps: torch.optim.Adam(ps, lr=0.05, amsgrad=True), num_steps=7)
    params = opt._params()
    copies = [mg.tensor(p.data, requires_grad=True) for p in params]
    resumed = optim.Adam(copies, lr=1.0)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.state[copies[0]]["step"] == 7
    for step in range(7, 12):
        for group in (params, copies):
            for p, g in zip(group, gradient_of([p.data for p in group], step)):
                p.grad = mg.tensor(g)
        opt.step()
        resumed.step()
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.data, b.data)


def test_adam_rejects_invalid_hyper_parameters():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\), got 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="AdamW: invalid learning rate -1"):
        optim.AdamW([p], lr=-1)
