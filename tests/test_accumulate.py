"""training.accumulate: k micro-batches give exactly the full-batch mean gradient (examples or tokens)."""
import contextlib

import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.training import accumulate

VOCAB, DIM, IGNORE = 7, 4, -100


def token_batch(num_seqs=11, max_len=9, seed=0):
    """Padded sequences whose lengths fall from max_len to 1, so micro-batches hold very different token counts."""
    rng = np.random.default_rng(seed)
    lengths = np.linspace(max_len, 1, num_seqs).round().astype(int)
    inputs = rng.integers(0, VOCAB, (num_seqs, max_len))
    targets = rng.integers(0, VOCAB, (num_seqs, max_len))
    targets[np.arange(max_len)[None, :] >= lengths[:, None]] = IGNORE  # padding
    return inputs, targets


def init_weights(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((VOCAB, DIM)), rng.standard_normal((VOCAB, DIM)), rng.standard_normal(VOCAB)]


def token_loss(params, inputs, targets, reduction):
    """A one-layer language model: embed, project back to the vocabulary, token-level cross-entropy."""
    E, W, b = params
    logits = mg.embedding(E, inputs) @ W.T + b
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=IGNORE, reduction=reduction)


def torch_full_batch_grads(weights, inputs, targets):
    E, W, b = (torch.tensor(w, requires_grad=True) for w in weights)
    logits = E[torch.tensor(inputs)] @ W.T + b
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), torch.tensor(targets).reshape(-1),
                                             ignore_index=IGNORE)
    loss.backward()
    return loss.item(), [E.grad.numpy(), W.grad.numpy(), b.grad.numpy()]


def split(arrays, k):
    """k micro-batches along the first axis (np.array_split: sizes differ by one, the last ones smaller)."""
    return list(zip(*(np.array_split(a, k) for a in arrays)))


def count_tokens(mb):
    return int((mb[1] != IGNORE).sum())


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_accumulated_token_gradient_equals_full_batch_gradient(k):
    inputs, targets = token_batch()
    weights = init_weights()
    params = [mg.tensor(w, requires_grad=True) for w in weights]
    loss = accumulate(split((inputs, targets), k), lambda mb: token_loss(params, *mb, reduction="sum"),
                      count=count_tokens)
    expected_loss, expected_grads = torch_full_batch_grads(weights, inputs, targets)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    for p, g in zip(params, expected_grads):
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-12, atol=1e-14)

    full = [mg.tensor(w, requires_grad=True) for w in weights]      # and minigrad's own full batch
    token_loss(full, inputs, targets, reduction="mean").backward()
    for p, q in zip(params, full):
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-12, atol=1e-14)


def test_mean_of_micro_batch_means_is_off_by_more_than_five_percent():
    inputs, targets = token_batch()
    weights = init_weights()
    _, expected = torch_full_batch_grads(weights, inputs, targets)
    params = [mg.tensor(w, requires_grad=True) for w in weights]
    micro_batches = split((inputs, targets), 3)
    for mb in micro_batches:  # the classic mistake: each micro-batch's MEAN loss, divided by k
        (token_loss(params, *mb, reduction="mean") / len(micro_batches)).backward()
    naive = np.concatenate([p.grad.data.ravel() for p in params])
    exact = np.concatenate([g.ravel() for g in expected])
    assert np.linalg.norm(naive - exact) / np.linalg.norm(exact) > 0.05


def classification_batch(n=10, seed=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.integers(0, 4, n)


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_accumulated_example_gradient_equals_full_batch_gradient(k):
    X, y = classification_batch()
    W0 = np.random.default_rng(3).standard_normal((4, 3))
    W = mg.tensor(W0, requires_grad=True)
    loss = accumulate(split((X, y), k), lambda mb: F.cross_entropy(mg.tensor(mb[0]) @ W.T, mb[1], reduction="sum"),
                      count=lambda mb: len(mb[0]))
    tW = torch.tensor(W0, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(torch.tensor(X) @ tW.T, torch.tensor(y))
    expected.backward()
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(W.grad.data, tW.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_no_sync_wraps_every_micro_batch_but_the_last():
    inside = []

    @contextlib.contextmanager
    def no_sync():
        inside.append(True)
        yield
        inside.append(False)

    w = mg.tensor(np.ones(2), requires_grad=True)
    log = []

    def loss_fn(mb):
        log.append(bool(inside) and inside[-1])
        return (w * mb).sum()

    accumulate([np.ones(2)] * 4, loss_fn, no_sync=no_sync)
    assert log == [True, True, True, False]


def test_accumulate_adds_to_existing_gradients_and_accepts_tensor_counts_and_an_explicit_total():
    w = mg.tensor(np.zeros(1), requires_grad=True)
    w.grad = mg.tensor(np.array([10.0]))
    mean = accumulate([np.array([1.0, 2.0]), np.array([3.0])], lambda mb: (w + mg.tensor(mb)).sum(),
                      count=lambda mb: mg.tensor(np.array(len(mb))), total=6)
    assert mean == pytest.approx(1.0, rel=1e-15)      # (1 + 2 + 3) / 6
    np.testing.assert_allclose(w.grad.data, [10.0 + 3 / 6], rtol=1e-15)


def test_accumulate_rejects_bad_input_clearly():
    w = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="counts 0 units"):
        accumulate([np.zeros(0)], lambda mb: w.sum())
    with pytest.raises(TypeError, match=r"one-element Tensor \(the summed loss\), got \(2,\)"):
        accumulate([np.ones(2)], lambda mb: w * 2)
    with pytest.raises(ValueError, match="no micro-batches"):
        accumulate([], lambda mb: w.sum())
