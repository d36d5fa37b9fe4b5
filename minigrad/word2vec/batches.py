"""Turn a token stream into SGNS score blocks, vectorised (no Python loop per word).

One epoch, as in gensim and the C tool:

1. Subsample: each token survives with ``keep_probabilities`` (``vocab.py``);
   windows are formed over the survivors, so they reach past dropped words.
2. Shrinking window: every center draws b ~ U{0..window-1} and uses the
   contexts at distance 1..window-b. Distance-d contexts are thus weighted
   (window - d + 1) / window on average (Mikolov et al. 2013a, section 3.2;
   Levy, Goldberg & Dagan 2015 call it "dynamic context window").
   Windows never cross a sentence boundary.
3. K negatives per (center, context) pair from P_n ∝ count^0.75; a negative
   equal to that pair's context is skipped (gensim's ``if target_index ==
   word_index: continue``).

Block layout (why it is fast). The stream is cut into blocks of T consecutive
centers. Their contexts all lie in the T + 2·window tokens around the block,
so one matrix product of the T center vectors with those T + 2w output
vectors gives every positive score (a banded matrix: P marks the valid
offsets). The T centers also share one pool of ``pool_size`` negatives, whose
scores come from the same product. Each row read is a d-vector reused by many
scores: a center costs (T + 2w + pool) / T gathered output rows, 1.8 with the
defaults (T=32, w=5, pool=16), against 1 + K per pair, ~36 per center, when
every pair gathers its own context and negatives.

Sharing negatives keeps the expected loss exactly SGNS's. Center c with n_c
contexts needs n_c·K negatives on average; each pool entry w_k gets weight
N[c, k] = (K / pool) · (n_c - #{contexts of c equal to w_k}), so
E[Σ_k N[c,k] ℓ(c, w_k)] = K Σ_w P_n(w) (n_c - #{contexts = w}) ℓ(c, w), the
same as K i.i.d. negatives per pair with the skip rule. Negatives shared by a
window or a mini-batch are used in HogBatch (Ji et al. 2016, "Parallelizing
Word2Vec in Shared and Distributed Memory") and BlazingText (Gupta & Khare 2017).
"""
from dataclasses import dataclass

from minigrad import backend


@dataclass
class Blocks:
    """One mini-batch: G blocks of T centers and S = T + 2·window + pool candidates."""

    centers: object  # (G, T) word ids of the centers (padding slots point at word 0)
    candidates: object  # (G, S) word ids of the window tokens then the pool of negatives
    pos_weight: object  # (G, T, S) 1 where the candidate is a context of the center
    neg_weight: object  # (G, T, S) weight of each shared negative, 0 on the window part
    num_words: int  # real (non-padding) centers in this batch


def subsample(ids, sentence_of, keep_prob, rng):
    """Keep each token with probability keep_prob[its word] (one uniform draw per token)."""
    kept = rng.random(len(ids)) < keep_prob[ids]
    return ids[kept], sentence_of[kept]


def iter_blocks(ids, sentence_of, noise, rng, *, window, negative, batch_words, block_words,
                pool_size, shrink_windows=True, dtype="float32"):
    """Yield ``Blocks`` covering the stream ``ids`` (already subsampled), ~batch_words centers each."""
    xp = backend.get_array_module(ids)
    n, T, w = len(ids), block_words, window
    if n == 0:
        return
    padded_len = -(-n // T) * T  # round up to whole blocks
    # w padding slots before and after, marked with sentence -1 so they never pair
    tokens = xp.zeros(padded_len + 2 * w, dtype=ids.dtype)
    tokens[w:w + n] = ids
    sentence = xp.full(padded_len + 2 * w, -1, dtype=sentence_of.dtype)
    sentence[w:w + n] = sentence_of
    offset = xp.arange(T + 2 * w)[None, :] - w - xp.arange(T)[:, None]  # (T, T+2w): context pos - center pos
    blocks_per_batch = max(1, batch_words // T)
    for start in range(0, padded_len, blocks_per_batch * T):
        stop = min(start + blocks_per_batch * T, padded_len)
        yield _make_blocks(tokens, sentence, offset, start, stop, noise, rng, w, negative, T,
                           pool_size, shrink_windows, dtype, num_words=min(stop, n) - start)


def _make_blocks(tokens, sentence, offset, start, stop, noise, rng, w, negative, T, pool_size,
                 shrink_windows, dtype, num_words):
    xp = backend.get_array_module(tokens)
    G = (stop - start) // T
    centers = tokens[w + start:w + stop].reshape(G, T)
    center_sentence = sentence[w + start:w + stop].reshape(G, T, 1)
    # window slab of block g: padded positions start + g*T + [0, T + 2w)
    slab = start + T * xp.arange(G)[:, None] + xp.arange(T + 2 * w)[None, :]
    slab_words, slab_sentence = tokens[slab], sentence[slab]

    if shrink_windows:  # effective window window - b, b ~ U{0..window-1}, one per center
        reach = w - rng.integers(0, w, size=(G, T, 1))
    else:
        reach = w
    distance = xp.abs(offset)[None]
    is_context = (distance >= 1) & (distance <= reach) & (slab_sentence[:, None, :] == center_sentence)
    is_context &= center_sentence >= 0

    width = T + 2 * w
    pos_weight = xp.zeros((G, T, width + pool_size), dtype=dtype)
    neg_weight = xp.zeros((G, T, width + pool_size), dtype=dtype)
    pos_weight[:, :, :width] = is_context
    pos = pos_weight[:, :, :width]
    pool = noise.sample(rng, (G, pool_size))
    contexts_per_center = pos.sum(axis=2, keepdims=True)  # n_c, (G, T, 1)
    same_word = (slab_words[:, :, None] == pool[:, None, :]).astype(dtype)  # (G, T+2w, pool)
    clashes = pos @ same_word  # (G, T, pool): how many contexts of c are pool word k
    neg_weight[:, :, width:] = (negative / pool_size) * (contexts_per_center - clashes)
    return Blocks(
        centers=centers,
        candidates=xp.concatenate([slab_words, pool], axis=1),
        pos_weight=pos_weight,
        neg_weight=neg_weight,
        num_words=num_words,
    )
