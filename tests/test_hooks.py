"""Autograd hooks: the same graph in minigrad and PyTorch calls the same hooks, in the same order,
with the same gradients; handles remove; the end-of-backward callback runs last."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.autograd import engine


def run_with_hooks(lib, queue_callback):
    """Build one graph with `lib` (minigrad or torch), hook everything, return the event log."""
    log = []
    rng = np.random.default_rng(3)
    a, b, c = (lib.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(3))
    if lib is torch:
        a, b, c = (t.double().detach().requires_grad_() for t in (a, b, c))

    def note(name, scale=None):
        def hook(g):
            log.append((name, g.detach().numpy().copy()))
            return None if scale is None else g * scale
        return hook

    def post(name):
        def hook(t):
            log.append((name + ".grad", t.grad.detach().numpy().copy()))
            if name == "b":
                queue_callback(lambda: log.append(("end of backward", None)))
        return hook

    for name, leaf in (("a", a), ("b", b), ("c", c)):
        leaf.register_hook(note(name, scale=2.0 if name == "b" else None))
        leaf.register_post_accumulate_grad_hook(post(name))
    h1 = a * b                   # a and b each feed two paths: their hooks see the sum
    h1.register_hook(note("h1"))
    h2 = h1.tanh()
    h2.register_hook(note("h2 first", scale=3.0))
    h2.register_hook(note("h2 second"))          # sees the first hook's result
    h3 = h2 * c + b
    loss = (h3 * h3).sum() + (a * 2.0).sum()
    loss.backward()
    log.append(("final grads", np.concatenate([t.grad.detach().numpy() for t in (a, b, c)])))
    return log


def test_hooks_fire_in_pytorchs_order_with_pytorchs_gradients():
    ours = run_with_hooks(mg, engine.queue_callback)
    theirs = run_with_hooks(torch, torch.autograd.Variable._execution_engine.queue_callback)
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    for (name, mine), (_, ref) in zip(ours, theirs):
        if ref is not None:
            np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-14, err_msg=name)
    assert ours[-2][0] == "end of backward"      # after every hook, before backward returns


def test_removed_hooks_are_not_called_and_remove_twice_is_harmless():
    calls = []
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    h = w.register_hook(lambda g: calls.append("pre"))
    hp = w.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    (w * w).sum().backward()
    assert calls == ["pre", "post"]
    h.remove()
    hp.remove()
    hp.remove()
    (w * w).sum().backward()
    assert calls == ["pre", "post"]
    np.testing.assert_array_equal(w.grad.data, [4.0, 8.0])      # 2w, accumulated twice


def test_leaf_hook_replaces_the_gradient_before_accumulation_as_torch():
    for lib in (mg, torch):
        w = lib.tensor([1.0, -2.0], requires_grad=True)
        w.register_hook(lambda g: g * 10)
        (w * 3.0).sum().backward()
        assert w.grad.tolist() == [30.0, 30.0]


def test_hook_errors_are_clear():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.register_hook(lambda g: g)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (w * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    w.register_hook(lambda g: mg.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match=r"returned a gradient of shape \(3,\)"):
        (w * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)


def test_leaf_hooks_fire_as_soon_as_the_leaf_is_done_not_at_the_end():
    """The property DDP's overlap rests on: the last layer's weight is ready first."""
    order = []
    w1 = mg.tensor(np.ones((2, 2)), requires_grad=True)
    w2 = mg.tensor(np.ones((2, 2)), requires_grad=True)
    w1.register_post_accumulate_grad_hook(lambda t: order.append("w1"))
    w2.register_post_accumulate_grad_hook(lambda t: order.append("w2"))
    x = mg.tensor(np.ones((1, 2)))
    h = (x @ w1).tanh()
    h.register_hook(lambda g: order.append("h"))
    (h @ w2).sum().backward()
    assert order == ["w2", "h", "w1"]


def test_autograd_grad_runs_leaf_hooks_but_not_post_accumulate_hooks_as_torch():
    results = {}
    for lib in (mg, torch):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: calls.append("pre") or g * 10)
        x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
        (g,) = lib.autograd.grad((x * x).sum(), x)
        results[lib.__name__] = (calls, g.tolist(), x.grad)
    assert results["minigrad"] == results["torch"] == (["pre"], [20.0, 40.0], None)
