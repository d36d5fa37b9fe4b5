"""optim.SGD against torch.optim.SGD, plus the Optimizer base: groups, state_dict, hooks, errors."""
import itertools

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def gradient_of(values, step):
    """A made-up, nonlinear, step-dependent gradient field, computed in NumPy for both frameworks."""
    return [np.sin(v * (1 + 0.1 * step)) + 0.5 * v - 0.3 + 0.05 * step for v in values]


def run_side_by_side(make_mg, make_torch, num_steps=20, seed=0, dtype=np.float64):
    """Drive a minigrad and a torch optimizer with identical gradients; return both parameter lists."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    mg_params = [mg.tensor(a, requires_grad=True) for a in init]
    torch_params = [torch.tensor(a, requires_grad=True) for a in init]
    mg_opt, torch_opt = make_mg(mg_params), make_torch(torch_params)
    for step in range(num_steps):
        grads = gradient_of([p.data for p in mg_params], step)
        for p, g in zip(mg_params, grads):
            p.grad = mg.tensor(g)
        for p, g in zip(torch_params, gradient_of([p.detach().numpy() for p in torch_params], step)):
            p.grad = torch.tensor(g)
        mg_opt.step()
        torch_opt.step()
    return [p.data for p in mg_params], [p.detach().numpy() for p in torch_params]


def valid_sgd_settings():
    for momentum, dampening, nesterov, weight_decay, maximize in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True]
    ):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                   weight_decay=weight_decay, maximize=maximize)


@pytest.mark.parametrize("settings", list(valid_sgd_settings()), ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_sgd_matches_torch_for_20_steps(settings):
    ours, theirs = run_side_by_side(lambda ps: optim.SGD(ps, lr=0.05, **settings),
                                    lambda ps: torch.optim.SGD(ps, lr=0.05, **settings))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_sgd_param_groups_with_their_own_lr_and_momentum_match_torch():
    def groups(ps):
        return [{"params": ps[:1], "lr": 0.1, "momentum": 0.5}, {"params": ps[1:]}]

    ours, theirs = run_side_by_side(lambda ps: optim.SGD(groups(ps), lr=0.02, momentum=0.9, nesterov=True),
                                    lambda ps: torch.optim.SGD(groups(ps), lr=0.02, momentum=0.9, nesterov=True))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_sgd_first_momentum_step_has_no_dampening_then_dampens():
    p = mg.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=1.0, momentum=0.5, dampening=0.8)
    p.grad = mg.tensor(np.array([2.0]))
    opt.step()                                     # buf = g = 2
    assert opt.state[p]["momentum_buffer"][0] == 2.0
    assert p.data[0] == 1.0 - 2.0
    opt.step()                                     # buf = 0.5*2 + (1-0.8)*2 = 1.4
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.4], rtol=1e-15)


def test_sgd_skips_a_parameter_without_grad_entirely():
    used = mg.tensor(np.ones(3), requires_grad=True)
    unused = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([used, unused], lr=0.1, momentum=0.9, weight_decay=0.5)
    used.grad = mg.tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(unused.data, np.ones(3))  # no weight decay applied either
    assert unused not in opt.state and used in opt.state


@pytest.mark.parametrize("momentum, dampening", [(0.0, 0.0), (0.9, 0.1)])
def test_sgd_nesterov_without_momentum_or_with_dampening_raises(momentum, dampening):
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, momentum=momentum, dampening=dampening, nesterov=True)


def test_sgd_keeps_float32_parameters_and_state_in_float32():
    p = mg.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    for _ in range(3):
        p.grad = mg.tensor(np.full(4, 0.5, dtype=np.float32))
        opt.step()
    assert p.dtype == np.float32 and opt.state[p]["momentum_buffer"].dtype == np.float32


def test_sgd_trains_through_autograd_like_torch():
    rng = np.random.default_rng(1)
    X, y, w0 = rng.standard_normal((16, 3)), rng.standard_normal(16), rng.standard_normal(3)
    w = mg.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    opt, topt = optim.SGD([w], lr=0.05, momentum=0.9), torch.optim.SGD([tw], lr=0.05, momentum=0.9)
    Xm, ym, Xt, yt = mg.tensor(X), mg.tensor(y), torch.tensor(X), torch.tensor(y)
    for _ in range(10):
        opt.zero_grad()
        ((Xm @ w - ym) ** 2).mean().backward()
        opt.step()
        topt.zero_grad()
        ((Xt @ tw - yt) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-12)


# ---- the Optimizer base ------------------------------------------------------

def test_state_dict_reload_mid_run_continues_bit_identically(tmp_path):
    rng = np.random.default_rng(2)
    init = [rng.standard_normal(s) for s in SHAPES]

    def train(params, opt, steps, start):
        for step in range(start, start + steps):
            for p, g in zip(params, gradient_of([p.data for p in params], step)):
                p.grad = mg.tensor(g)
            opt.step()

    straight = [mg.tensor(a, requires_grad=True) for a in init]
    opt = optim.SGD(straight, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)
    train(straight, opt, 10, 0)
    mg.save({"params": [p.data for p in straight], "optim": opt.state_dict()}, tmp_path / "ckpt.npz")
    train(straight, opt, 10, 10)

    ckpt = mg.load(tmp_path / "ckpt.npz")
    resumed = [mg.tensor(t.data, requires_grad=True) for t in ckpt["params"]]
    opt2 = optim.SGD(resumed, lr=999.0)            # hyper-parameters come back from the checkpoint too
    opt2.load_state_dict(ckpt["optim"])
    train(resumed, opt2, 10, 10)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_copy_not_a_view_of_live_state():
    p = mg.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = mg.tensor(np.ones(2))
    opt.step()
    saved = opt.state_dict()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], np.ones(2))


def test_load_state_dict_with_wrong_group_sizes_raises():
    a, b = (mg.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the checkpoint, 1 here"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)


def test_step_pre_hook_runs_before_the_update_and_can_be_removed():
    p = mg.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    seen = []

    def halve_gradients(optimizer):
        seen.append(p.data.copy())          # called before p changes
        for group in optimizer.param_groups:
            for q in group["params"]:
                q.grad.data *= 0.5

    handle = opt.register_step_pre_hook(halve_gradients)
    p.grad = mg.tensor(np.array([2.0, 4.0]))
    opt.step()
    np.testing.assert_array_equal(seen[0], [0.0, 0.0])
    np.testing.assert_array_equal(p.data, [-1.0, -2.0])
    handle.remove()
    p.grad = mg.tensor(np.array([2.0, 4.0]))
    opt.step()
    np.testing.assert_array_equal(p.data, [-3.0, -6.0])
    assert len(seen) == 1


def test_step_post_hook_sees_the_updated_parameters():
    p = mg.tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    seen = []
    opt.register_step_post_hook(lambda optimizer: seen.append(p.data.copy()))
    p.grad = mg.tensor(np.array([3.0]))
    opt.step()
    np.testing.assert_array_equal(seen[0], [-3.0])


def test_zero_grad_sets_none_or_zeros():
    p = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = mg.tensor(np.ones(3))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_optimizer_accepts_generators_and_plain_leaf_tensors():
    params = [mg.tensor(np.ones(2), requires_grad=True) for _ in range(3)]
    opt = optim.SGD((p for p in params), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 3


def test_optimizer_rejects_bad_parameters_with_clear_errors():
    leaf = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(leaf, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="requires_grad=False"):
        optim.SGD([mg.tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([leaf * 2], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([leaf, leaf], lr=0.1)


@pytest.mark.cuda
def test_sgd_on_cupy_matches_numpy():
    cupy = pytest.importorskip("cupy")
    if not mg.backend.cupy_available():
        pytest.skip("no CUDA device")
    init = np.random.default_rng(3).standard_normal(5)
    cpu, gpu = mg.tensor(init, requires_grad=True), mg.tensor(init, device="cuda", requires_grad=True)
    opts = [optim.SGD([q], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01) for q in (cpu, gpu)]
    for step in range(5):
        g = gradient_of([cpu.data], step)[0]
        cpu.grad, gpu.grad = mg.tensor(g), mg.tensor(g, device="cuda")
        for opt in opts:
            opt.step()
    assert isinstance(gpu.data, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(gpu.data), cpu.data, rtol=1e-12)


def test_step_with_closure_returns_its_loss_like_torch():
    w0 = np.array([1.0, -2.0])
    w, wt = mg.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    opt, opt_t = mg.optim.SGD([w], lr=0.1, momentum=0.5), torch.optim.SGD([wt], lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w * w).sum()
        loss.backward()
        return loss

    def closure_t():
        opt_t.zero_grad()
        loss = (wt * wt * wt).sum()
        loss.backward()
        return loss

    for _ in range(3):
        assert opt.step(closure).item() == opt_t.step(closure_t).item()
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-15)
