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
