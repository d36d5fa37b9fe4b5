"""The SGNS loss, its gradient and the row-sparse update against closed forms and PyTorch."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.word2vec import NoiseSampler, scatter_add, sgns_loss
from minigrad.word2vec.batches import iter_blocks
from minigrad.word2vec.sgns import gather, sparse_sgd_step


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def triples(seed=0, pairs=7, K=5, d=4, V=9):
    """Random (center, context, K negatives) triples as score blocks (T=1, S=1+K), with a skipped negative."""
    rng = np.random.default_rng(seed)
    Win, Wout = rng.standard_normal((V, d)) * 0.6, rng.standard_normal((V, d)) * 0.6
    center = rng.integers(0, V, pairs)
    outputs = rng.integers(0, V, (pairs, 1 + K))  # column 0: the true context, then K negatives
    outputs[0, 2] = outputs[0, 0]  # a negative equal to the target: gensim skips it
    pos = np.zeros((pairs, 1, 1 + K))
    pos[:, 0, 0] = 1
    neg = np.zeros((pairs, 1, 1 + K))
    neg[:, 0, 1:] = outputs[:, 1:] != outputs[:, :1]
    return Win, Wout, center, outputs, pos, neg


def test_sgns_gradient_of_triples_equals_closed_form():
    Win, Wout, center, outputs, pos, neg = triples()
    v = mg.tensor(Win[center][:, None, :], requires_grad=True)  # (B, 1, d)
    u = mg.tensor(Wout[outputs].transpose(0, 2, 1), requires_grad=True)  # (B, d, 1+K)
    sgns_loss(v, u, pos, neg, max_score=30).backward()

    V, U = Win[center], Wout[outputs]  # (B, d), (B, 1+K, d)
    x = np.einsum("bd,bkd->bk", V, U)
    label, used = pos[:, 0], pos[:, 0] + neg[:, 0]
    coeff = (sigmoid(x) - label) * used  # (σ(x) - label), 0 for skipped negatives
    np.testing.assert_allclose(v.grad.numpy()[:, 0], np.einsum("bk,bkd->bd", coeff, U), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(u.grad.numpy().transpose(0, 2, 1), coeff[:, :, None] * V[:, None, :],
                               rtol=1e-12, atol=1e-12)


def test_sgns_loss_and_gradient_match_pytorch():
    Win, Wout, center, outputs, pos, neg = triples(seed=1)
    v = mg.tensor(Win[center][:, None, :], requires_grad=True)
    u = mg.tensor(Wout[outputs].transpose(0, 2, 1), requires_grad=True)
    loss = sgns_loss(v, u, pos, neg, max_score=30)
    loss.backward()

    vt = torch.tensor(Win[center], requires_grad=True)
    ut = torch.tensor(Wout[outputs], requires_grad=True)
    x = torch.einsum("bd,bkd->bk", vt, ut)
    keep = torch.tensor(neg[:, 0, 1:])
    logsigmoid = torch.nn.functional.logsigmoid
    loss_t = -logsigmoid(x[:, 0]).sum() - (keep * logsigmoid(-x[:, 1:])).sum()
    loss_t.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(v.grad.numpy()[:, 0], vt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(u.grad.numpy().transpose(0, 2, 1), ut.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_sgns_loss_clip_zeroes_gradient_beyond_max_score_like_gensim():
    v = mg.tensor(np.array([[[4.0, 0.0]]]), requires_grad=True)
    u = mg.tensor(np.array([[[2.0, 0.5], [0.0, 0.0]]]), requires_grad=True)  # scores 8 and 2
    sgns_loss(v, u, np.array([[[0.0, 1.0]]]), np.array([[[1.0, 0.0]]]), max_score=6).backward()
    g = u.grad.numpy()[0]
    np.testing.assert_array_equal(g[:, 0], 0.0)  # |x| = 8 > 6: no update, as gensim's MAX_EXP rule
    np.testing.assert_allclose(g[:, 1], (sigmoid(2.0) - 1) * np.array([4.0, 0.0]), rtol=1e-12)


def test_sgns_loss_keeps_float32_and_reports_bad_shapes():
    v = mg.tensor(np.ones((2, 3, 4), np.float32), requires_grad=True)
    u = mg.tensor(np.ones((2, 4, 5), np.float32), requires_grad=True)
    w = np.ones((2, 3, 5))  # float64 weights must not promote the loss
    loss = sgns_loss(v, u, w, w)
    loss.backward()
    assert loss.dtype == np.float32 and v.grad.dtype == np.float32 and u.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"pos_weight must have shape \(2, 3, 5\)"):
        sgns_loss(v, u, np.ones((2, 5, 3)), w)
    with pytest.raises(ValueError, match=r"centers \(2, 3, 4\).*candidates \(2, 5, 4\)"):
        sgns_loss(v, mg.tensor(np.ones((2, 5, 4), np.float32)), w, w)
    with pytest.raises(ValueError, match="max_score"):
        sgns_loss(v, u, w, w, max_score=100)


@pytest.mark.parametrize("as_columns", [False, True])
def test_scatter_add_accumulates_repeated_rows(as_columns):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((6, 3))
    index = np.array([[1, 4, 1], [1, 0, 4]])
    rows = rng.standard_normal(index.shape + (3,))
    expected = weight.copy()
    for i, r in zip(index.reshape(-1), rows.reshape(-1, 3)):  # the definition, one row at a time
        expected[i] += r
    values = rows.swapaxes(-1, -2).copy() if as_columns else rows
    scatter_add(weight, index, values, as_columns=as_columns)
    np.testing.assert_allclose(weight, expected, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="C-contiguous"):
        scatter_add(np.zeros((3, 6)).T, index, rows)


def test_row_sparse_step_equals_dense_sgd_and_leaves_other_rows_untouched():
    """gather -> loss -> backward -> scatter equals W - lr·∂loss/∂W computed on the full matrices."""
    rng = np.random.default_rng(4)
    V, d, lr = 12, 5, 0.1
    Win, Wout = rng.standard_normal((V, d)) * 0.3, rng.standard_normal((V, d)) * 0.3
    centers = np.array([[1, 3, 1], [3, 3, 2]])  # repeated rows within and across blocks
    cands = np.array([[0, 1, 5, 5], [6, 3, 3, 0]])
    pos = rng.integers(0, 2, (2, 3, 4)).astype(float)
    neg = rng.random((2, 3, 4))

    full_in, full_out = mg.tensor(Win, requires_grad=True), mg.tensor(Wout, requires_grad=True)
    dense_centers = mg.embedding(full_in, centers)
    dense_candidates = mg.embedding(full_out, cands).permute(0, 2, 1)
    dense_loss = sgns_loss(dense_centers, dense_candidates, pos, neg)
    dense_loss.backward()
    dense_in, dense_out = Win - lr * full_in.grad.numpy(), Wout - lr * full_out.grad.numpy()

    sparse_in, sparse_out = Win.copy(), Wout.copy()
    c, u = gather(sparse_in, centers), gather(sparse_out, cands, as_columns=True)
    sgns_loss(c, u, pos, neg).backward()
    sparse_sgd_step(sparse_in, centers, c, lr)
    sparse_sgd_step(sparse_out, cands, u, lr, as_columns=True)
    np.testing.assert_allclose(sparse_in, dense_in, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sparse_out, dense_out, rtol=1e-12, atol=1e-14)
    untouched = np.setdiff1d(np.arange(V), cands)
    np.testing.assert_array_equal(sparse_out[untouched], Wout[untouched])


def reference_pairs(ids, sentence_of, window):
    """(center position, context position) pairs with a full window, one Python loop per token."""
    pairs = set()
    for i in range(len(ids)):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i and sentence_of[j] == sentence_of[i]:
                pairs.add((i, j))
    return pairs


def decoded_pairs(blocks_list, ids, window, T):
    """(center position, context position) pairs marked in the blocks' pos_weight.

    Also checks that each center and each window candidate is the word at its stream position.
    """
    pairs, start = set(), 0
    for b in blocks_list:
        G = b.centers.shape[0]
        g, t, s = np.nonzero(b.pos_weight[:, :, :T + 2 * window])
        for gi, ti, si in zip(g, t, s):
            center, context = start + gi * T + ti, start + gi * T + si - window
            assert b.centers[gi, ti] == ids[center] and b.candidates[gi, si] == ids[context]
            pairs.add((center, context))
        start += G * T
    return pairs


@pytest.mark.parametrize("T", [4, 16])
def test_blocks_hold_exactly_the_window_pairs_within_sentences(T):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 30, 203)
    sentence_of = np.repeat(np.arange(9), [30, 1, 0, 40, 22, 50, 10, 20, 30])[:203]
    noise = NoiseSampler(np.arange(1, 31))
    blocks = list(iter_blocks(ids, sentence_of, noise, np.random.default_rng(0), window=3, negative=5,
                              batch_words=40, block_words=T, pool_size=8, shrink_windows=False))
    assert decoded_pairs(blocks, ids, 3, T) == reference_pairs(ids, sentence_of, 3)
    assert sum(b.num_words for b in blocks) == len(ids)
    assert all(b.candidates.shape[1] == T + 2 * 3 + 8 for b in blocks)


def test_shrinking_window_draws_each_reach_uniformly():
    ids = np.zeros(20_000, dtype=np.int64)
    blocks = list(iter_blocks(ids, np.zeros_like(ids), NoiseSampler([1.0]), np.random.default_rng(6), window=4,
                              negative=5, batch_words=4096, block_words=16, pool_size=4))
    # a center far from the stream ends with reach r has exactly 2r contexts
    contexts = np.concatenate([b.pos_weight.sum(axis=2).reshape(-1) for b in blocks])[10:-10]
    reach_freq = np.bincount((contexts // 2).astype(int), minlength=5)[1:] / len(contexts)
    np.testing.assert_allclose(reach_freq, 0.25, atol=0.02)
    assert set(np.unique(contexts)) == {2.0, 4.0, 6.0, 8.0}


def test_shared_negative_weights_give_k_per_pair_minus_skipped_targets():
    """N[c, k] = K/pool · (n_c - #{contexts of c equal to pool word k}), recomputed with plain loops."""
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 4, 64)  # a tiny vocabulary makes pool words collide with contexts often
    noise = NoiseSampler(np.array([5.0, 3.0, 2.0, 1.0]))
    K, P, T, w = 5, 6, 8, 2
    (b,) = list(iter_blocks(ids, np.zeros_like(ids), noise, np.random.default_rng(8), window=w, negative=K,
                            batch_words=64, block_words=T, pool_size=P))
    width = T + 2 * w
    pos, pool = b.pos_weight[:, :, :width], b.candidates[:, width:]
    expected = np.zeros((ids.size // T, T, P))
    clashes_seen = 0
    for g in range(expected.shape[0]):
        for t in range(T):
            contexts = [b.candidates[g, s] for s in range(width) if pos[g, t, s]]
            for k in range(P):
                clashes = sum(c == pool[g, k] for c in contexts)
                clashes_seen += clashes
                expected[g, t, k] = K / P * (len(contexts) - clashes)
    assert clashes_seen > 0
    np.testing.assert_allclose(b.neg_weight[:, :, width:], expected, rtol=1e-6)
    np.testing.assert_array_equal(b.neg_weight[:, :, :width], 0)
    np.testing.assert_array_equal(b.pos_weight[:, :, width:], 0)


@pytest.mark.cuda
def test_word2vec_step_on_cuda_matches_cpu():
    cupy = pytest.importorskip("cupy")
    if not mg.backend.cupy_available():
        pytest.skip("no CUDA device visible to CuPy")
    Win, Wout, center, outputs, pos, neg = triples(seed=9)
    results = []
    for xp in (np, cupy):
        win, wout = xp.array(Win), xp.array(Wout)  # copies: the NumPy pass updates its arrays in place
        c_idx, o_idx = xp.asarray(center[:, None]), xp.asarray(outputs)
        c, u = gather(win, c_idx), gather(wout, o_idx, as_columns=True)
        sgns_loss(c, u, xp.asarray(pos), xp.asarray(neg)).backward()
        sparse_sgd_step(win, c_idx, c, 0.1)
        sparse_sgd_step(wout, o_idx, u, 0.1, as_columns=True)
        results.append((mg.backend.to_numpy(win), mg.backend.to_numpy(wout)))
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-12)
