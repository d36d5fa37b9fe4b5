"""Levy & Goldberg (2014): full-batch SGNS factorises the shifted PMI matrix.

With enough dimensions (d >= V) and every (w, c) pair observed, the minimum of
the expected SGNS loss is reached cell by cell at

    u_c · v_w = log( #(w,c) / (k · #(w) · P_n(c)) ),

which is PMI(w, c) - log k when P_n is the context distribution #(c)/|D|.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.word2vec import NoiseSampler, sgns_loss
from minigrad.word2vec.batches import iter_blocks

V, WINDOW, K = 12, 2, 5


@pytest.fixture(scope="module")
def corpus():
    """A Markov-chain text over 12 words with dense transitions: every pair co-occurs."""
    rng = np.random.default_rng(0)
    transition = rng.dirichlet(np.full(V, 2.0), size=V)
    ids = [rng.integers(V)]
    for _ in range(5999):
        ids.append(rng.choice(V, p=transition[ids[-1]]))
    ids = np.array(ids)
    sentence_of = np.cumsum(rng.random(len(ids)) < 0.05)  # sentences of ~20 tokens
    return ids, sentence_of


def pair_counts(ids, sentence_of):
    """#(w, c): context c within WINDOW of word w, same sentence, counted with plain loops."""
    counts = np.zeros((V, V))
    for i in range(len(ids)):
        for j in range(max(0, i - WINDOW), min(len(ids), i + WINDOW + 1)):
            if j != i and sentence_of[j] == sentence_of[i]:
                counts[ids[i], ids[j]] += 1
    return counts


def fit_full_batch(counts, noise_probs, steps=800):
    """Minimise the expected SGNS loss over all (w, c) cells with Adam; return the score matrix."""
    rng = np.random.default_rng(1)
    d = V  # d >= V: the score matrix can take any value
    centers = mg.tensor(rng.standard_normal((1, V, d)) * 0.1, requires_grad=True)
    candidates = mg.tensor(rng.standard_normal((1, d, V)) * 0.1, requires_grad=True)
    total = counts.sum()
    pos = counts / total  # scaling both weights by 1/|D| leaves the minimiser unchanged
    neg = K * counts.sum(axis=1, keepdims=True) * noise_probs[None, :] / total
    opt = optim.Adam([centers, candidates], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        sgns_loss(centers, candidates, pos[None], neg[None], max_score=30).backward()
        opt.step()
    return (centers.data @ candidates.data)[0]


def test_blocks_count_every_window_pair_once(corpus):
    """The training batches carry exactly #(w, c) positive weight (no shrinking, no subsampling)."""
    ids, sentence_of = corpus
    seen = np.zeros((V, V))
    for b in iter_blocks(ids, sentence_of, NoiseSampler(np.ones(V)), np.random.default_rng(2), window=WINDOW,
                         negative=K, batch_words=512, block_words=16, pool_size=8, shrink_windows=False):
        G, T, S = b.pos_weight.shape
        np.add.at(seen, (np.broadcast_to(b.centers[:, :, None], (G, T, S)),
                         np.broadcast_to(b.candidates[:, None, :], (G, T, S))), b.pos_weight)
    np.testing.assert_array_equal(seen, pair_counts(ids, sentence_of))


def test_full_batch_sgns_reaches_log_count_ratio_with_unigram_power_noise(corpus, float64):
    counts = pair_counts(*corpus)
    assert (counts > 0).all(), "the closed form needs every pair observed"
    noise = NoiseSampler(np.bincount(corpus[0], minlength=V), exponent=0.75).probs
    scores = fit_full_batch(counts, noise)
    target = np.log(counts / (K * counts.sum(axis=1, keepdims=True) * noise[None, :]))
    assert np.abs(scores - target).max() < 0.05


def test_full_batch_sgns_reaches_pmi_minus_log_k_with_context_noise(corpus, float64):
    counts = pair_counts(*corpus)
    total = counts.sum()
    word, context = counts.sum(axis=1, keepdims=True), counts.sum(axis=0, keepdims=True)
    pmi = np.log(counts * total / (word * context))
    scores = fit_full_batch(counts, context[0] / total)
    assert np.abs(scores - (pmi - np.log(K))).max() < 0.05
