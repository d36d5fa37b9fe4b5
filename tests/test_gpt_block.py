"""The GPT of shared_gpt.py, built from torch and from minigrad with the same source: equal numbers."""
import numpy as np
import pytest
import torch

import minigrad as mg
from shared_gpt import GPTConfig, define_gpt

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _twins(config, dtype):
    """The torch model (seeded init) and the minigrad model loaded from its state dict."""
    torch.manual_seed(0)
    theirs = define_gpt(torch)[3](config).to(torch.float64 if dtype == np.float64 else torch.float32)
    previous = mg.get_default_dtype()
    mg.set_default_dtype(dtype)
    try:
        ours = define_gpt(mg)[3](config)
    finally:
        mg.set_default_dtype(previous)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # names, order, the tied head under both
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _batch(config, B=3, T=None, seed=0):
    rng = np.random.default_rng(seed)
    T = T or config.block_size
    idx = rng.integers(0, config.vocab_size, (B, T))
    targets = rng.integers(0, config.vocab_size, (B, T))
    targets[0, :3] = -1  # nanoGPT's ignore_index
    return idx, targets


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_gpt_logits_loss_and_every_gradient_equal_torch(dtype, bias):
    config = GPTConfig(bias=bias)
    ours, theirs = _twins(config, dtype)
    idx, targets = _batch(config)
    logits, loss = ours(mg.tensor(idx), mg.tensor(targets))
    logits_t, loss_t = theirs(torch.tensor(idx), torch.tensor(targets))
    assert logits.dtype == dtype
    np.testing.assert_allclose(logits.numpy(), logits_t.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(loss.item(), loss_t.item(), **TOL[dtype])
    loss.backward()
    loss_t.backward()
    grads_t = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(grads_t)
    for name, p in ours.named_parameters():
        assert p.grad is not None and p.grad.dtype == dtype, name
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), err_msg=name, **TOL[dtype])


def test_gpt_block_alone_equals_torch_on_a_shorter_sequence(float64):
    config = GPTConfig(n_embd=24, n_head=3)
    torch.manual_seed(1)
    theirs = define_gpt(torch)[2](config).double()
    ours = define_gpt(mg)[2](config)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 5, 24))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_gpt_training_steps_follow_torch(float64):
    """Five AdamW steps: the loss curves agree, so forward, backward and the tied weights all match."""
    config = GPTConfig(n_layer=1)
    ours, theirs = _twins(config, np.float64)
    opt = mg.optim.AdamW(ours.parameters(), lr=1e-2, weight_decay=0.1)
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.1)
    idx, targets = _batch(config, seed=3)
    for _ in range(5):
        _, loss = ours(mg.tensor(idx), mg.tensor(targets))
        _, loss_t = theirs(torch.tensor(idx), torch.tensor(targets))
        np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-9)
        for model, optimizer, value in ((ours, opt, loss), (theirs, opt_t, loss_t)):
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
