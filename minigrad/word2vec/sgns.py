"""The skip-gram negative-sampling (SGNS) loss and its row-sparse SGD update.

Skip-gram (Mikolov et al. 2013a) gives every word two vectors: v_w when it is
the center word ("input", gensim's ``wv.vectors``/syn0) and u_w when it is a
context word ("output", gensim's ``syn1neg``). Negative sampling (Mikolov et
al. 2013b, eq. 4) replaces the softmax over the whole vocabulary by a few
logistic regressions per (center c, context o) pair:

    loss(c, o) = -log σ(u_o · v_c) - Σ_{k=1..K} log σ(-u_k · v_c),   u_k ~ P_n

Its gradient is the logistic-regression one: with score x = u · v and label
y = 1 for the true context and 0 for a negative,

    ∂loss/∂v_c = Σ (σ(x) - y) u,      ∂loss/∂u = (σ(x) - y) v_c.

Batches are written as *score blocks*. A block holds T center vectors (rows
of V) and S candidate output vectors (columns of U); every center meets every
candidate through one matrix product, and two weight arrays say what each
(center, candidate) score means:

    loss = Σ_{t,s}  P[t,s] · (-log σ(x_ts))  +  N[t,s] · (-log σ(-x_ts)),   x = V U

P counts positive pairs, N counts negative draws. One (c, o, negatives) triple
is the block T=1, S=1+K with P=[1,0..0], N=[0,1..1]; a whole text window plus
a shared pool of negatives is a bigger block (see ``batches.py``); the exact
expected loss of Levy & Goldberg (2014) is one block over the whole vocabulary.
"""
from minigrad import backend, functions as F
from minigrad.tensor import Tensor, unwrap

MAX_SCORE = 6.0  # gensim's MAX_EXP: beyond |x| = 6 its update is skipped, i.e. the gradient is 0


def sgns_loss(centers, candidates, pos_weight, neg_weight, max_score=MAX_SCORE):
    """Summed SGNS loss of score blocks, written with minigrad ops.

    centers: Tensor (..., T, d), one center vector v per row; candidates:
    Tensor (..., d, S), one output vector u per *column*, so the scores are the
    plain product x = centers @ candidates (no transpose: see ``gather``);
    pos_weight, neg_weight: arrays (..., T, S).

    With softplus(z) = log(1 + e^z) = -log σ(-z), and -log σ(-x) = -log σ(x) + x,
    one softplus serves both labels:

        loss = Σ (P + N)·softplus(-x) + N·x,      ∂loss/∂x = (P + N)·σ(x) - P.

    The scores are first clipped to [-max_score, max_score]. With gensim's
    6 this zeroes the gradient where |x| > 6, exactly like gensim and the C
    tool skip those updates; it also keeps e^-x finite (any max_score <= 80
    is safe in float32). Pass a large max_score (e.g. 30) for the plain loss.
    """
    _check_block(centers, candidates, pos_weight, neg_weight)
    if not 0 < max_score <= 80:
        raise ValueError(f"sgns_loss: max_score must be in (0, 80] so e^max_score stays finite, got {max_score}")
    pos_weight = unwrap(pos_weight).astype(centers.dtype, copy=False)  # keep the loss (and grads) in
    neg_weight = unwrap(neg_weight).astype(centers.dtype, copy=False)  # the embeddings' dtype
    scores = F.clip(F.matmul(centers, candidates), -max_score, max_score)
    softplus_neg = F.log(1 + F.exp(-scores))  # -log σ(x)
    return ((pos_weight + neg_weight) * softplus_neg + neg_weight * scores).sum()


def _check_block(centers, candidates, pos_weight, neg_weight):
    if centers.ndim < 2 or candidates.ndim != centers.ndim:
        raise ValueError(
            f"sgns_loss: centers (..., T, d) and candidates (..., d, S) need the same ndim >= 2, "
            f"got {tuple(centers.shape)} and {tuple(candidates.shape)}"
        )
    if centers.shape[:-2] != candidates.shape[:-2] or centers.shape[-1] != candidates.shape[-2]:
        raise ValueError(
            f"sgns_loss: centers {tuple(centers.shape)} (..., T, d) and candidates {tuple(candidates.shape)} "
            f"(..., d, S) must agree on the batch axes and the vector size d"
        )
    want = centers.shape[:-1] + candidates.shape[-1:]
    for name, w in (("pos_weight", pos_weight), ("neg_weight", neg_weight)):
        if tuple(w.shape) != want:
            raise ValueError(f"sgns_loss: {name} must have shape {want} (..., T, S), got {tuple(w.shape)}")


def gather(weight, index, as_columns=False):
    """Leaf Tensor with the rows ``weight[index]``: the only rows this step reads or changes.

    Shape index.shape + (d,), or with ``as_columns`` the last two axes swapped
    (..., d, k): a free transposed view, so ``centers @ candidates`` needs no
    transpose op, and the gradient that backward produces is already a
    contiguous (..., d, k) array (a transposed view would be copied).
    """
    rows = weight[index]
    return Tensor(rows.swapaxes(-1, -2) if as_columns else rows, requires_grad=True)


def sparse_sgd_step(weight, index, leaf, lr, as_columns=False):
    """Row-sparse SGD: weight[index] -= lr · leaf.grad, repeated indices accumulating, in place.

    Exactly the dense update W -= lr · ∂loss/∂W, since the loss's gradient is
    zero on rows not gathered, but O(rows touched · d) instead of O(V · d).
    """
    if leaf.grad is not None:
        scatter_add(weight, index, leaf.grad.data * (-lr), as_columns)
    return weight


def scatter_add(weight, index, values, as_columns=False):
    """weight[index[j]] += values[j] for every j; repeated indices accumulate (in place).

    ``values`` is laid out like ``gather``'s output: index.shape + (d,), or
    (..., d, k) with ``as_columns``. Each vector coordinate gets its flat
    position index*d + coordinate, and one 1-D ``np.add.at`` (CuPy:
    ``cupyx.scatter_add``, atomic adds) does the rest. NumPy's 1-D ``ufunc.at``
    has a fast path: here it measured ~8x faster than the 2-D
    ``np.add.at(weight, index, rows)`` and ~2x faster than sort + ``add.reduceat``.
    """
    xp = backend.get_array_module(weight)
    if weight.ndim != 2 or not weight.flags.c_contiguous:
        raise ValueError("scatter_add: weight must be a C-contiguous (V, d) array, so that its flat view is "
                         f"updated in place; got shape {tuple(weight.shape)}")
    d = weight.shape[-1]
    coordinate = xp.arange(d)
    if as_columns:
        flat = index[..., None, :] * d + coordinate[:, None]
    else:
        flat = index[..., None] * d + coordinate
    if flat.shape != values.shape:
        raise ValueError(f"scatter_add: values of shape {tuple(values.shape)} do not match index "
                         f"{tuple(index.shape)} with vectors of size {d} (expected {tuple(flat.shape)})")
    values = xp.ascontiguousarray(values, dtype=weight.dtype)
    backend.scatter_add(weight.reshape(-1), flat.reshape(-1), values.reshape(-1))
    return weight
