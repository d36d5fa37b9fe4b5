"""optim.Adagrad and optim.RMSprop against torch.optim, every option combination, 20 steps in float64."""
import itertools

import numpy as np
import pytest
import torch
from optim_side_by_side import assert_matches_torch, assert_resumes_bit_identically, run_side_by_side

import minigrad as mg
from minigrad import optim


def settings_ids(settings):
    return "-".join(f"{k}={v}" for k, v in settings.items())


ADAGRAD_SETTINGS = [
    dict(lr_decay=decay, weight_decay=wd, initial_accumulator_value=init, eps=eps, maximize=mx)
    for decay, wd, init, eps, mx in itertools.product([0.0, 0.1], [0.0, 0.1], [0.0, 0.5], [1e-10, 1e-3], [False, True])
]
RMSPROP_SETTINGS = [
    dict(alpha=alpha, momentum=mom, centered=c, weight_decay=wd, eps=eps, maximize=mx)
    for alpha, mom, c, wd, eps, mx in itertools.product(
        [0.99, 0.3], [0.0, 0.9], [False, True], [0.0, 0.1], [1e-8, 1e-2], [False, True])
]


@pytest.mark.parametrize("settings", ADAGRAD_SETTINGS, ids=settings_ids)
def test_adagrad_matches_torch_for_20_steps(settings):
    assert_matches_torch("Adagrad", lr=0.3, **settings)


@pytest.mark.parametrize("settings", RMSPROP_SETTINGS, ids=settings_ids)
def test_rmsprop_matches_torch_for_20_steps(settings):
    assert_matches_torch("RMSprop", lr=0.01, **settings)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop"])
def test_defaults_and_param_groups_match_torch(name):
    def groups(ps):
        return [{"params": ps[:1], "lr": 0.05, "weight_decay": 0.2}, {"params": ps[1:]}]

    _, ours, theirs = run_side_by_side(lambda ps: getattr(optim, name)(groups(ps)),
                                       lambda ps: getattr(torch.optim, name)(groups(ps)))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_adagrad_first_steps_closed_form():
    # From s0 = 0: step 1 moves by lr * g/|g| = lr * sign(g); step 2 (same g) by lr * g / sqrt(2 g^2) = lr/sqrt(2).
    g = np.array([2.0, -0.5, 30.0])
    p = mg.tensor(np.zeros(3), requires_grad=True)
    opt = optim.Adagrad([p], lr=0.1, eps=0.0)
    p.grad = mg.tensor(g)
    opt.step()
    np.testing.assert_allclose(p.data, -0.1 * np.sign(g), rtol=1e-15)
    opt.step()
    np.testing.assert_allclose(p.data, -0.1 * np.sign(g) * (1 + 1 / np.sqrt(2)), rtol=1e-15)


def test_rmsprop_state_dict_resumes_identically():
    kwargs = dict(lr=0.01, momentum=0.9, centered=True)
    opt, _, _ = run_side_by_side(lambda ps: optim.RMSprop(ps, **kwargs),
                                 lambda ps: torch.optim.RMSprop(ps, **kwargs), num_steps=5)
    resumed = assert_resumes_bit_identically(opt, lambda ps: optim.RMSprop(ps, lr=1.0), 5, 9)
    assert set(resumed.state[resumed._params()[0]]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}


def test_step_leaves_the_gradient_untouched():
    p = mg.tensor(np.ones(3), requires_grad=True)
    p.grad = mg.tensor(np.array([1.0, -2.0, 3.0]))
    for opt in (optim.Adagrad([p], weight_decay=0.1, maximize=True), optim.RMSprop([p], weight_decay=0.1, maximize=True)):
        opt.step()
        np.testing.assert_array_equal(p.grad.data, [1.0, -2.0, 3.0])


def test_float32_parameters_stay_float32():
    p = mg.tensor(np.ones(5, dtype=np.float32), requires_grad=True)
    p.grad = mg.tensor(np.full(5, 0.5, dtype=np.float32))
    for opt in (optim.Adagrad([p]), optim.RMSprop([p], centered=True, momentum=0.5)):
        opt.step()
        assert p.data.dtype == np.float32


def test_invalid_hyper_parameters_raise():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="Adagrad: invalid lr_decay -1"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match="RMSprop: invalid alpha -0.5"):
        optim.RMSprop([p], alpha=-0.5)
