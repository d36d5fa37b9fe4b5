"""Drive a minigrad optimizer and a reference (torch.optim, or a NumPy transcription) with identical gradients."""
import numpy as np
import torch

import minigrad as mg

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def gradient_of(values, step):
    """A made-up, nonlinear, step-dependent gradient field computed in NumPy, fed to both sides."""
    return [np.sin(v * (1 + 0.1 * step)) + 0.5 * v - 0.3 + 0.05 * step for v in values]


def initial_values(seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def run_side_by_side(make_mg, make_torch, num_steps=20, seed=0):
    """Returns (minigrad optimizer, minigrad parameter arrays, torch parameter arrays) after ``num_steps``."""
    init = initial_values(seed)
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


def assert_matches_torch(name, num_steps=20, **kwargs):
    """``optim.<name>(**kwargs)`` and ``torch.optim.<name>(**kwargs)`` agree to 1e-12 after ``num_steps`` (float64)."""
    from minigrad import optim
    _, ours, theirs = run_side_by_side(lambda ps: getattr(optim, name)(ps, **kwargs),
                                       lambda ps: getattr(torch.optim, name)(ps, **kwargs), num_steps)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def assert_resumes_bit_identically(opt, make_fresh, start, stop):
    """A fresh optimizer (``make_fresh(params)``) loaded with ``opt.state_dict()`` continues exactly like ``opt``.

    Both are fed the same gradients for steps ``start`` .. ``stop - 1``; returns the fresh one.
    """
    params = opt._params()
    copies = [mg.tensor(p.data, requires_grad=True) for p in params]
    resumed = make_fresh(copies)
    resumed.load_state_dict(opt.state_dict())
    for step in range(start, stop):
        for group in (params, copies):
            for p, g in zip(group, gradient_of([p.data for p in group], step)):
                p.grad = mg.tensor(g)
        opt.step()
        resumed.step()
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.data, b.data)
    return resumed
