"""Write each expression twice, once in minigrad and once in PyTorch, and compare
values and gradients (micrograd's and tinygrad's way of testing)."""
import numpy as np
import torch

import minigrad as mg

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def make_inputs(shapes, dtype, seed, low=None, device="cpu"):
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        a = rng.standard_normal(shape)
        if low is not None:  # a domain bound, e.g. log/sqrt need positive inputs
            a = np.abs(a) + low
        arrays.append(a.astype(dtype))
    ours = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def assert_close(ours, theirs, dtype, what):
    ours = ours.numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL[dtype])


def check_vs_torch(shapes, torch_fn, mg_fn, dtype=np.float64, seed=0, low=None, device="cpu", double=False):
    """Forward, backward (and optionally double backward) of mg_fn against torch_fn."""
    ours, theirs = make_inputs(shapes, dtype, seed, low, device)
    y, yt = mg_fn(*ours), torch_fn(*theirs)
    assert_close(y, yt, dtype, "forward")
    assert y.dtype == np.dtype(dtype), f"forward changed dtype to {y.dtype}"
    seed_grad = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    if not double:
        y.backward(mg.tensor(seed_grad, device=device))
        yt.backward(torch.tensor(seed_grad))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert a.grad.dtype == np.dtype(dtype), f"grad of input {i} has dtype {a.grad.dtype}"
            assert_close(a.grad, b.grad, dtype, f"grad of input {i}")
        return
    # double backward: differentiate <grad, v> once more
    gs = mg.autograd.grad(y, ours, grad_outputs=mg.tensor(seed_grad, device=device), create_graph=True)
    gts = torch.autograd.grad(yt, theirs, grad_outputs=torch.tensor(seed_grad), create_graph=True)
    rng = np.random.default_rng(seed + 2)
    vs = [rng.standard_normal(a.shape).astype(dtype) for a in ours]
    total = sum((g * mg.tensor(v, device=device)).sum() for g, v in zip(gs, vs))
    total_t = sum((g * torch.tensor(v)).sum() for g, v in zip(gts, vs))
    assert_close(total, total_t, dtype, "grad-vector product")
    if not total_t.requires_grad:  # the gradient is constant: no second derivative anywhere
        assert not total.requires_grad, "minigrad made a constant gradient depend on the inputs"
        return
    total.backward()
    total_t.backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a_grad = a.grad if a.grad is not None else np.zeros(a.shape, dtype)
        b_grad = b.grad if b.grad is not None else torch.zeros_like(b)
        assert_close(a_grad, b_grad, dtype, f"second derivative of input {i}")
