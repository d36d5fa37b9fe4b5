"""optim.LARS and optim.LAMB: one step by hand, excluded groups as plain SGD/AdamW, 50 steps vs the papers' algorithms."""
import numpy as np
import pytest
import torch
from optim_side_by_side import gradient_of, initial_values, run_side_by_side

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim


def tensors(*arrays):
    return [mg.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = mg.tensor(np.array(g, dtype=np.float64))


# ---- one step, by hand ----------------------------------------------------------
def test_lars_one_step_closed_form_per_parameter():
    # Layer 1: ||w|| = 5, ||g|| = 1.  Layer 2: ||w|| = 3, ||g|| = 5.  eta = 0.001, beta = 0.01, lr = 2.
    w1, w2 = tensors([[3.0, 4.0]], [1.0, 2.0, 2.0])
    g1, g2 = np.array([[0.6, 0.8]]), np.array([0.0, 3.0, 4.0])
    set_grads([w1, w2], [g1, g2])
    opt = optim.LARS([w1, w2], lr=2.0, momentum=0.9, weight_decay=0.01, trust_coefficient=0.001)
    opt.step()
    local1 = 0.001 * 5 / (1 + 0.01 * 5)            # eta ||w|| / (||g|| + beta ||w||)
    local2 = 0.001 * 3 / (5 + 0.01 * 3)
    np.testing.assert_allclose(w1.data, [[3, 4]] - 2.0 * local1 * (g1 + 0.01 * np.array([[3, 4]])), rtol=1e-14)
    np.testing.assert_allclose(w2.data, [1, 2, 2] - 2.0 * local2 * (g2 + 0.01 * np.array([1, 2, 2])), rtol=1e-14)
    assert opt.state[w1]["local_lr"] == pytest.approx(local1, rel=1e-15)
    # the step length is at most eta * lr * ||w|| (triangle inequality), and close to it, whatever ||g||
    for moved, w_norm in ((np.linalg.norm(w1.data - [[3, 4]]), 5), (np.linalg.norm(w2.data - [1, 2, 2]), 3)):
        assert 0.99 * 2.0 * 0.001 * w_norm < moved <= 2.0 * 0.001 * w_norm


def test_lamb_one_step_closed_form_per_parameter():
    # After one step with bias correction r = g / (|g| + eps) elementwise (Adam's first step is sign(g)).
    w1, w2 = tensors([[3.0, 4.0]], [1.0, 2.0, 2.0])
    g1, g2 = np.array([[0.5, -2.0]]), np.array([-1.0, 4.0, 0.25])
    set_grads([w1, w2], [g1, g2])
    opt = optim.LAMB([w1, w2], lr=0.1, eps=0.0, weight_decay=0.1)
    opt.step()
    u1 = np.sign(g1) + 0.1 * np.array([[3.0, 4.0]])   # [[1.3, -0.6]]
    u2 = np.sign(g2) + 0.1 * np.array([1.0, 2.0, 2.0])  # [-0.9, 1.2, 1.2]
    np.testing.assert_allclose(w1.data, [[3, 4]] - 0.1 * 5 / np.sqrt(1.3**2 + 0.6**2) * u1, rtol=1e-14)
    np.testing.assert_allclose(w2.data, [1, 2, 2] - 0.1 * 3 / np.sqrt(0.81 + 1.44 + 1.44) * u2, rtol=1e-14)
    # phi clipping: ||w1|| = 5 clipped to 2
    w, = tensors([[3.0, 4.0]])
    set_grads([w], [g1])
    optim.LAMB([w], lr=0.1, eps=0.0, weight_decay=0.1, clip_weight_norm=(None, 2.0)).step()
    np.testing.assert_allclose(w.data, [[3, 4]] - 0.1 * 2 / np.sqrt(1.3**2 + 0.6**2) * u1, rtol=1e-14)


@pytest.mark.parametrize("name", ["LARS", "LAMB"])
def test_zero_weights_take_the_plain_step(name):
    w, = tensors([0.0, 0.0])
    set_grads([w], [[3.0, -4.0]])
    getattr(optim, name)([w], lr=0.1).step()
    expected = [-0.3, 0.4] if name == "LARS" else [-0.1, 0.1]  # LARS: SGD step; LAMB: Adam's first step lr*sign(g)
    np.testing.assert_allclose(w.data, expected, rtol=1e-6)


# ---- excluded groups are plain SGD / AdamW / Adam --------------------------------
def test_lars_group_without_trust_ratio_is_torch_sgd_with_momentum():
    def groups(ps):
        return [{"params": ps, "trust_ratio": False}]
    _, ours, theirs = run_side_by_side(lambda ps: optim.LARS(groups(ps), lr=0.05, momentum=0.9, weight_decay=0.01),
                                       lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_lamb_group_without_trust_ratio_is_torch_adamw(decay):
    def groups(ps):
        return [{"params": ps, "trust_ratio": False}]
    kwargs = dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=decay)
    _, ours, theirs = run_side_by_side(lambda ps: optim.LAMB(groups(ps), **kwargs),
                                       lambda ps: torch.optim.AdamW(ps, **kwargs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_exclude_bias_and_norm_groups_and_their_effect():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    groups = optim.exclude_bias_and_norm(net.named_parameters(), weight_decay=0.1)
    assert [p.shape for p in groups[0]["params"]] == [(4, 3)]
    assert sorted(p.shape for p in groups[1]["params"]) == [(4,), (4,), (4,)]
    assert groups[1]["weight_decay"] == 0.0 and groups[1]["trust_ratio"] is False
    opt = optim.LARS(groups, lr=0.5, momentum=0.0)
    bias = net[0].bias
    before = bias.data.copy()
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    (net(x) * mg.tensor(np.array([1.0, -2.0, 0.5, 3.0]))).sum().backward()  # (2, 4), a loss LayerNorm doesn't cancel
    opt.step()
    np.testing.assert_allclose(bias.data, before - 0.5 * bias.grad.data, rtol=1e-12)  # plain SGD for the bias
    assert opt.state[net[0].weight]["local_lr"] < 0.01                                  # adapted weight


# ---- 50 steps against NumPy transcriptions of the papers' algorithms --------------
def lars_paper(values, lr0, num_steps, m, beta, eta):
    """You, Gitman & Ginsburg 2017, Algorithm 1, with its polynomial schedule gamma_t = gamma_0 (1 - t/T)^2."""
    w = [v.copy() for v in values]
    v = [np.zeros_like(x) for x in w]
    for t in range(num_steps):
        g = gradient_of(w, t)
        gamma = lr0 * (1 - (t + 1) / (num_steps + 1)) ** 2
        for layer in range(len(w)):
            local = eta * np.linalg.norm(w[layer]) / (np.linalg.norm(g[layer]) + beta * np.linalg.norm(w[layer]))
            v[layer] = m * v[layer] + gamma * local * (g[layer] + beta * w[layer])
            w[layer] = w[layer] - v[layer]
    return w


def lamb_paper(values, lr, num_steps, beta1, beta2, eps, lam, bounds):
    """You et al. 2019, Algorithm 2, phi(z) = min(max(z, gamma_l), gamma_u)."""
    x = [v.copy() for v in values]
    m = [np.zeros_like(a) for a in x]
    v = [np.zeros_like(a) for a in x]
    for t in range(1, num_steps + 1):
        g = gradient_of(x, t - 1)
        for i in range(len(x)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            r = (m[i] / (1 - beta1 ** t)) / (np.sqrt(v[i] / (1 - beta2 ** t)) + eps)
            phi = min(max(np.linalg.norm(x[i]), bounds[0]), bounds[1])
            x[i] = x[i] - lr * phi / np.linalg.norm(r + lam * x[i]) * (r + lam * x[i])
    return x


def run_minigrad(opt_factory, num_steps, lr_at=None):
    params = [mg.tensor(a, requires_grad=True) for a in initial_values(seed=3)]
    opt = opt_factory(params)
    for t in range(num_steps):
        set_grads(params, gradient_of([p.data for p in params], t))
        if lr_at is not None:
            opt.param_groups[0]["lr"] = lr_at(t)
        opt.step()
    return [p.data for p in params]


@pytest.mark.parametrize("momentum, decay", [(0.9, 5e-4), (0.0, 0.0), (0.5, 0.1)])
def test_lars_50_steps_equal_the_paper_algorithm(momentum, decay):
    steps, lr0, eta = 50, 4.0, 0.02
    ours = run_minigrad(lambda ps: optim.LARS(ps, lr=lr0, momentum=momentum, weight_decay=decay, trust_coefficient=eta),
                        steps, lr_at=lambda t: lr0 * (1 - (t + 1) / (steps + 1)) ** 2)
    theirs = lars_paper(initial_values(seed=3), lr0, steps, momentum, decay, eta)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert not np.allclose(ours[0], initial_values(seed=3)[0], atol=1e-2)  # it moved


@pytest.mark.parametrize("decay, bounds", [(0.01, None), (0.0, (0.5, 2.0)), (0.1, (1.5, None))])
def test_lamb_50_steps_equal_the_paper_algorithm(decay, bounds):
    ours = run_minigrad(lambda ps: optim.LAMB(ps, lr=0.02, betas=(0.9, 0.99), eps=1e-6, weight_decay=decay,
                                              clip_weight_norm=bounds), 50)
    lower, upper = bounds or (None, None)
    theirs = lamb_paper(initial_values(seed=3), 0.02, 50, 0.9, 0.99, 1e-6, decay,
                        (lower if lower is not None else 0.0, upper if upper is not None else np.inf))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_lamb_without_bias_correction():
    ours = run_minigrad(lambda ps: optim.LAMB(ps, lr=0.02, bias_correction=False), 1)
    x0, g0 = initial_values(seed=3), gradient_of(initial_values(seed=3), 0)
    for a, x, g in zip(ours, x0, g0):
        r = 0.1 * g / (np.sqrt(0.001 * g ** 2) + 1e-6)       # m and v without dividing by 1 - beta^t
        np.testing.assert_allclose(a, x - 0.02 * np.linalg.norm(x) / np.linalg.norm(r) * r, rtol=1e-12)


def test_invalid_arguments_raise():
    w, = tensors([1.0])
    with pytest.raises(ValueError, match="LARS: invalid trust_coefficient -1"):
        optim.LARS([w], lr=0.1, trust_coefficient=-1)
    with pytest.raises(ValueError, match="LAMB: clip_weight_norm must be"):
        optim.LAMB([w], clip_weight_norm=(1.0,))
    with pytest.raises(ValueError, match="required 'lr'"):
        optim.LARS([w])


@pytest.mark.parametrize("name, kwargs", [("LARS", dict(lr=1.0, weight_decay=0.01)), ("LAMB", dict(weight_decay=0.01))])
def test_checkpoint_through_save_load_resumes_bit_identically(tmp_path, name, kwargs):
    params = [mg.tensor(a, requires_grad=True) for a in initial_values(seed=5)]
    opt = getattr(optim, name)(params, **kwargs)
    for t in range(4):
        set_grads(params, gradient_of([p.data for p in params], t))
        opt.step()
    mg.save(opt.state_dict(), tmp_path / "opt.mg")
    copies = [mg.tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = getattr(optim, name)(copies, lr=123.0)
    resumed.load_state_dict(mg.load(tmp_path / "opt.mg"))
    for t in range(4, 8):
        for group in (params, copies):
            set_grads(group, gradient_of([p.data for p in group], t))
        opt.step()
        resumed.step()
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.data, b.data)
