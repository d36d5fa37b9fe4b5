"""One function, run twice: on minigrad tensors and on torch tensors.

Because minigrad's Tensor speaks PyTorch's API, an op test is written once:

    check([(2, 3, 4), (2, 4, 5)], lambda x, y: x.transpose(1, 2).sum(-1) @ y)
    check([(3, 4)], lambda lib, x: lib.cat([x, x], dim=1), lib=True)  # module-level functions

``check`` compares, against PyTorch: the forward values and dtype (every output, for ops
returning tuples such as ``max(dim)``), the gradients that ``.backward()`` leaves in every
input's ``.grad`` and their dtype, and a double backward (the gradient of <grad, v> for a
random v). Tolerances: float64 rtol 1e-10, float32 rtol 1e-5. tinygrad's
``helper_test_op`` and micrograd's tests work the same way.
"""
import numpy as np
import pytest
import torch

import minigrad as mg

TOL = {np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12), np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6)}
EXACT = dict(rtol=0, atol=0)


def _arrays(shapes, dtype, seed, low):
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        a = rng.standard_normal(shape)
        if low is not None:  # a domain bound, e.g. log/sqrt need positive inputs
            a = np.abs(a) + low
        out.append(np.asarray(a, dtype=dtype))
    return out


def _outputs(y):
    """A single output or the fields of a (values, indices) result, as a list."""
    return list(y) if isinstance(y, tuple) else [y]


def _same_dtype(ours, theirs, what):
    theirs = str(theirs.dtype).replace("torch.", "")
    assert str(ours.dtype) == theirs, f"{what}: dtype {ours.dtype}, torch gives {theirs}"


def assert_close(ours, theirs, what, tol=None):
    ours_np = ours.numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    theirs_np = theirs.detach().numpy()
    assert ours_np.shape == theirs_np.shape, f"{what}: shape {ours_np.shape}, torch gives {theirs_np.shape}"
    if tol is None:
        tol = TOL.get(np.dtype(ours_np.dtype), EXACT)
    np.testing.assert_allclose(ours_np, theirs_np, err_msg=what, equal_nan=True, **tol)


def _run(fn, lib, module, tensors):
    return fn(module, *tensors) if lib else fn(*tensors)


def _forward(fn, lib, arrays, grad, device):
    ours = [mg.tensor(a, device=device, requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad) for a in arrays]
    ys, yts = _outputs(_run(fn, lib, mg, ours)), _outputs(_run(fn, lib, torch, theirs))
    assert len(ys) == len(yts), f"{len(ys)} outputs, torch gives {len(yts)}"
    return ours, theirs, ys, yts


def check(shapes, fn, *, lib=False, dtypes=(np.float64, np.float32), low=None, grad=True, double=True,
          seed=0, device="cpu"):
    """Run ``fn`` on minigrad and on torch inputs of ``shapes``; compare values, dtypes, grads, double grads."""
    for dtype in dtypes:
        arrays = _arrays(shapes, dtype, seed, low)
        ours, theirs, ys, yts = _forward(fn, lib, arrays, grad, device)
        for i, (y, yt) in enumerate(zip(ys, yts)):
            _same_dtype(y, yt, f"output {i} ({dtype.__name__})")
            assert_close(y, yt, f"output {i} ({dtype.__name__})")
            assert y.requires_grad == yt.requires_grad, f"output {i}: requires_grad differs from torch's"
        if not grad or not yts[0].requires_grad:
            continue
        # max(dim), topk, split...: the first output carries the gradient
        seed_grad = np.random.default_rng(seed + 1).standard_normal(ys[0].shape).astype(ys[0].dtype)
        ys[0].backward(mg.tensor(seed_grad, device=device))
        yts[0].backward(torch.tensor(seed_grad))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _compare_grad(a.grad, b.grad, a, f"grad of input {i} ({dtype.__name__})")
        if double and dtype == np.float64:
            ours, theirs, ys, yts = _forward(fn, lib, arrays, grad, device)
            _check_double_backward(ours, theirs, ys[0], yts[0], seed_grad, seed, device)


def _compare_grad(ours, theirs, x, what):
    if theirs is None:
        assert ours is None or not np.any(ours.numpy()), f"{what}: torch has no gradient, minigrad has {ours}"
        return
    assert ours is not None, f"{what}: minigrad has no gradient"
    assert ours.dtype == x.dtype, f"{what}: dtype {ours.dtype} differs from the input's {x.dtype}"
    assert_close(ours, theirs, what)


def _check_double_backward(ours, theirs, y, yt, seed_grad, seed, device):
    """First derivatives via autograd.grad(create_graph=True), then d<grad, v>/dx vs torch."""
    gs = mg.autograd.grad(y, ours, grad_outputs=mg.tensor(seed_grad, device=device), create_graph=True)
    gts = torch.autograd.grad(yt, theirs, grad_outputs=torch.tensor(seed_grad), create_graph=True, allow_unused=True)
    gts = [torch.zeros_like(t) if g is None else g for g, t in zip(gts, theirs)]
    for i, (g, gt) in enumerate(zip(gs, gts)):
        assert_close(g, gt, f"grad of input {i} (create_graph=True)")
    rng = np.random.default_rng(seed + 2)
    vs = [rng.standard_normal(a.shape) for a in ours]
    total = sum((g * mg.tensor(v, device=device)).sum() for g, v in zip(gs, vs))
    total_t = sum((g * torch.tensor(v)).sum() for g, v in zip(gts, vs))
    if not total_t.requires_grad:  # the gradient does not depend on the inputs: nothing more to compare
        return
    if not total.requires_grad:  # minigrad found it constant; torch must agree that it is zero
        for i, x in enumerate(theirs):
            (h,) = torch.autograd.grad(total_t, x, retain_graph=True, allow_unused=True)
            assert h is None or not torch.any(h), f"second derivative of input {i}: torch {h}, minigrad none"
        return
    total.backward()
    total_t.backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a_grad = a.grad if a.grad is not None else mg.tensor(np.zeros(a.shape))
        b_grad = b.grad if b.grad is not None else torch.zeros_like(b)
        assert_close(a_grad, b_grad, f"second derivative of input {i}")


def check_error(shapes, fn, error, match, *, lib=False, dtype=np.float64):
    """Both libraries reject the call with ``error``; minigrad's message must name the op (``match``)."""
    arrays = _arrays(shapes, dtype, 0, None)
    with pytest.raises(error):
        _run(fn, lib, torch, [torch.tensor(a) for a in arrays])
    with pytest.raises(error, match=match):
        _run(fn, lib, mg, [mg.tensor(a) for a in arrays])
