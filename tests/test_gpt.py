"""minigrad.models.gpt against the same GPT written in PyTorch (llm.c's test_gpt2, in float64).

The PyTorch model is the test suite's own (``shared_gpt.define_gpt(torch)``), not minigrad's code.
"""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.models.gpt import GPT, GPTConfig
from shared_gpt import define_gpt

CONFIG = GPTConfig(block_size=12, vocab_size=29, n_layer=2, n_head=4, n_embd=32)
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _twins(config=CONFIG, seed=0):
    """minigrad GPT (float64, its own init) and the torch GPT loaded from its state dict."""
    mg.manual_seed(seed)
    ours = GPT(config)
    theirs = define_gpt(torch)[3](config).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _batch(config=CONFIG, B=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.vocab_size, (B, config.block_size)), \
        rng.integers(0, config.vocab_size, (B, config.block_size))


def test_state_dict_names_and_tying_equal_torch(float64):
    ours, theirs = _twins()
    assert list(ours.state_dict()) == list(theirs.state_dict())  # both list wte and lm_head
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.lm_head.weight is ours.transformer.wte.weight
    assert ours.get_num_params(non_embedding=False) == sum(p.numel() for p in theirs.parameters())
    # and back: torch's values into a differently seeded minigrad model, tying intact
    other = GPT(CONFIG)
    other.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for (name, a), b in zip(other.state_dict().items(), ours.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert other.lm_head.weight is other.transformer.wte.weight


def test_init_follows_gpt2_scaled_residual_rule(float64):
    mg.manual_seed(3)
    model = GPT(GPTConfig(block_size=64, vocab_size=200, n_layer=4, n_head=4, n_embd=128))
    params = dict(model.named_parameters())
    residual = np.concatenate([params[f"transformer.h.{i}.{m}.c_proj.weight"].numpy().ravel()
                               for i in range(4) for m in ("attn", "mlp")])
    assert abs(residual.std() - 0.02 / math.sqrt(2 * 4)) < 3e-4
    assert abs(params["transformer.wte.weight"].numpy().std() - 0.02) < 3e-4
    assert not params["transformer.h.0.attn.c_attn.bias"].numpy().any()
    np.testing.assert_array_equal(params["transformer.ln_f.weight"].numpy(), 1.0)


@pytest.mark.parametrize("bias", [True, False])
def test_logits_loss_and_every_gradient_equal_torch(float64, bias):
    config = GPTConfig(block_size=12, vocab_size=29, n_layer=2, n_head=4, n_embd=32, bias=bias)
    ours, theirs = _twins(config)
    idx, targets = _batch(config)
    targets[1, :4] = -1  # ignored positions, as nanoGPT
    logits, loss = ours(mg.tensor(idx), mg.tensor(targets))
    logits_t, loss_t = theirs(torch.tensor(idx), torch.tensor(targets))
    assert logits.shape == (3, 12, 29) and logits.dtype == np.float64
    np.testing.assert_allclose(logits.numpy(), logits_t.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(loss.item(), loss_t.item(), **TIGHT)
    loss.backward()
    loss_t.backward()
    grads_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), err_msg=name, **TIGHT)


def test_without_targets_only_the_last_position_is_returned(float64):
    ours, theirs = _twins()
    idx, _ = _batch()
    logits, loss = ours(mg.tensor(idx))
    assert loss is None and logits.shape == (3, 1, 29)
    full, _ = theirs(torch.tensor(idx))
    np.testing.assert_allclose(logits.numpy(), full[:, -1:].detach().numpy(), **TIGHT)


def _torch_adamw_like_nanogpt(model, weight_decay, lr, betas):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas)


def test_ten_adamw_steps_give_torch_losses(float64):
    ours, theirs = _twins()
    opt = ours.configure_optimizers(weight_decay=0.1, learning_rate=3e-3, betas=(0.9, 0.95))
    opt_t = _torch_adamw_like_nanogpt(theirs, 0.1, 3e-3, (0.9, 0.95))
    idx, targets = _batch(B=4, seed=5)
    losses, losses_t = [], []
    for _ in range(10):
        for model, optimizer, out, x, y in ((ours, opt, losses, mg.tensor(idx), mg.tensor(targets)),
                                            (theirs, opt_t, losses_t, torch.tensor(idx), torch.tensor(targets))):
            _, loss = model(x, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            out.append(loss.item())
    np.testing.assert_allclose(losses, losses_t, rtol=1e-10)
    assert losses[-1] < losses[0] - 0.5  # it learned something, so equal curves are not two flat lines


def test_configure_optimizers_decays_exactly_the_matrices(float64):
    ours, theirs = _twins()
    opt = ours.configure_optimizers(weight_decay=0.2, learning_rate=1e-3, betas=(0.9, 0.99))
    assert isinstance(opt, mg.optim.AdamW)
    names = {id(p): n for n, p in ours.named_parameters()}
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.2 for p in g["params"]}
    assert decayed == {n for n, p in theirs.named_parameters() if p.dim() >= 2}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(theirs.parameters()))
    assert all(g["betas"] == (0.9, 0.99) and g["lr"] == 1e-3 for g in opt.param_groups)


def test_generate_with_top_k_1_is_torch_greedy_decoding_with_cropped_context(float64):
    ours, theirs = _twins()
    idx, _ = _batch(B=2)  # already block_size long: every new token must crop the context
    out = ours.generate(mg.tensor(idx), max_new_tokens=5, top_k=1).numpy()
    expected = torch.tensor(idx)
    with torch.no_grad():
        for _ in range(5):
            logits, _ = theirs(expected[:, -CONFIG.block_size:])
            expected = torch.cat([expected, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    np.testing.assert_array_equal(out, expected.numpy())


def test_generate_samples_only_from_the_top_k_and_follows_temperature(float64):
    ours, theirs = _twins()
    prompt = np.zeros((400, 3), dtype=np.int64)
    mg.manual_seed(7)
    drawn = ours.generate(mg.tensor(prompt), max_new_tokens=1, temperature=2.0, top_k=3).numpy()[:, -1]
    with torch.no_grad():
        logits = theirs(torch.tensor(prompt[:1]))[0][0, -1].numpy()
    top3 = np.argsort(-logits)[:3]
    assert set(drawn) <= set(top3) and len(set(drawn)) == 3
    p = np.exp((logits[top3] - logits[top3].max()) / 2.0)
    p /= p.sum()
    freq = np.array([(drawn == t).mean() for t in top3])
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / 400) + 1e-9)  # 4 standard errors


def test_bad_inputs_raise_clear_errors(float64):
    model = GPT(CONFIG)
    with pytest.raises(ValueError, match="block_size 12"):
        model(mg.tensor(np.zeros((1, 13), dtype=np.int64)))
    with pytest.raises(ValueError, match="n_head=5"):
        GPT(GPTConfig(n_embd=32, n_head=5))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(mg.tensor(np.zeros((1, 2), dtype=np.int64)), 1, temperature=0.0)
