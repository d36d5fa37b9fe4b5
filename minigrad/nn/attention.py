"""Scaled dot-product attention, PyTorch's ``F.scaled_dot_product_attention``.

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + M) V,   scale = 1/√E by default

(Vaswani et al., "Attention Is All You Need", 2017, sec. 3.2.1, eq. 1). M is 0
where a query may look at a key and -inf where it may not (a boolean mask,
``is_causal``), or any float bias the caller adds.

It is ONE op with a hand-written backward, the way FlashAttention writes it
(Dao et al. 2022, sec. 3.1 and appendix B.2). With P = softmax(S), O = P V and
the incoming gradient dO:

    dV = Pᵀ dO,   dP = dO Vᵀ,   dS = P ⊙ (dP - D),   D = rowsum(dO ⊙ O) = rowsum(dP ⊙ P),
    dQ = dS K · scale,   dK = dSᵀ Q · scale,   dM = dS.

The backward is written with minigrad ops, so ``create_graph=True`` records it
and attention can be differentiated twice; the plain backward reuses P saved by
the forward instead of recomputing it.
"""
import math

import numpy as np

from minigrad import backend, config
from minigrad import functions as ops
from minigrad.tensor import Function, Tensor, unwrap


def _swap_last(x):
    """Exchange the last two axes: (..., L, S) -> (..., S, L)."""
    return ops.transpose(x, -2, -1)


def attention_probs(q, k, bias, scale, dead_rows):
    """P = softmax(q kᵀ · scale + bias) over the keys, with minigrad ops (differentiable; used for double backward).

    Rows whose keys are all masked give zeros, as in PyTorch.
    """
    s = ops.matmul(q * scale, _swap_last(k))  # (..., L, S)
    if bias is not None:
        s = s + bias
    if dead_rows is None:
        return ops.softmax(s, axis=-1)
    return ops.where(dead_rows, 0.0, ops.softmax(ops.where(dead_rows, 0.0, s), axis=-1))


class ScaledDotProductAttention(Function):
    """softmax(q kᵀ · scale + bias) v with optional dropout on the attention weights; see the module docstring."""

    def __init__(self, scale, dead_rows, keep):
        self.scale, self.dead_rows, self.keep = scale, dead_rows, keep

    def forward(self, q, k, v, bias=None):
        # The same P as ``attention_probs``, computed in place on one (..., L, S) buffer for speed.
        xp = backend.get_array_module(q)
        p = (q * q.dtype.type(self.scale)) @ _swap_last(k)  # S, (..., L, S)
        if bias is not None:
            p = p + bias
        if p.shape[-1]:
            row_max = p.max(axis=-1, keepdims=True)  # (..., L, 1)
        else:  # no keys: nothing to shift
            row_max = xp.zeros(p.shape[:-1] + (1,), p.dtype)
        if self.dead_rows is not None:  # a row of -inf: shift by 0 so exp gives zeros, not nan
            row_max = xp.where(self.dead_rows, 0, row_max)
        p -= row_max
        xp.exp(p, out=p)
        total = p.sum(axis=-1, keepdims=True)  # (..., L, 1)
        if self.dead_rows is not None:
            total = xp.where(self.dead_rows, 1, total)
        p *= 1 / total  # P = softmax(S)
        self.probs = p
        if self.keep is not None:
            p = p * self.keep  # dropout: zero some weights, scale the rest by 1/(1 - p)
        return p @ v  # (..., L, Ev)

    def backward(self, go, q, k, v, bias=None):
        if isinstance(go, Tensor):  # create_graph: P must be a function of q and k in the graph
            p = attention_probs(q, k, bias, self.scale, self.dead_rows)
        else:
            p = self.probs
        need_q, need_k, need_v = self.needs_grad[:3]
        dropped = p if self.keep is None else p * self.keep
        gv = ops.sum_to(ops.matmul(_swap_last(dropped), go), v.shape) if need_v else None
        gs = ops.matmul(go, _swap_last(v))  # dP, (..., L, S)
        if self.keep is not None:
            gs = gs * self.keep
        # dS = P ⊙ (dP - D). On arrays ``-=`` and ``*=`` reuse dP's buffer; on Tensors they make new nodes.
        gs -= ops.sum(go * self.output_like(go), axis=-1, keepdims=True)  # D, (..., L, 1)
        gs *= p
        gq = ops.sum_to(ops.matmul(gs, k) * self.scale, q.shape) if need_q else None
        gk = ops.sum_to(ops.matmul(_swap_last(gs), q) * self.scale, k.shape) if need_k else None
        if bias is None:
            return gq, gk, gv
        return gq, gk, gv, ops.sum_to(gs, bias.shape) if self.needs_grad[3] else None


def _repeat_heads(x, heads):
    """Grouped-query attention (Ainslie et al. 2023, sec. 2.2): each of the H key/value heads serves
    heads/H query heads, i.e. (..., H, S, E) -> (..., heads, S, E) with every head repeated in place."""
    h = x.shape[-3]
    if heads % h:
        raise RuntimeError(f"scaled_dot_product_attention: Number of heads in key and value ({h}) must divide "
                           f"the number of heads in query ({heads})")
    grouped = ops.unsqueeze(x, -3)  # (..., H, 1, S, E)
    grouped = ops.expand(grouped, *x.shape[:-2], heads // h, *x.shape[-2:])  # (..., H, heads/H, S, E)
    return ops.reshape(grouped, x.shape[:-3] + (heads,) + x.shape[-2:])


def _check_inputs(query, key, value, attn_mask, dropout_p, is_causal):
    op = "scaled_dot_product_attention"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"{op}: query, key and value must be at least 2-D, got shapes "
                           f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not query.dtype == key.dtype == value.dtype or query.dtype.kind != "f":
        raise RuntimeError(f"{op}: query, key and value must share one floating dtype, got "
                           f"{query.dtype}, {key.dtype} and {value.dtype}")
    if key.shape[-1] != query.shape[-1] or value.shape[-2] != key.shape[-2]:
        raise RuntimeError(f"{op}: need query (..., L, E), key (..., S, E), value (..., S, Ev); got "
                           f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: batch dimensions of {tuple(query.shape)}, {tuple(key.shape)} and "
                           f"{tuple(value.shape)} do not broadcast") from None
    if attn_mask is not None:
        if attn_mask.dtype != np.bool_ and attn_mask.dtype != query.dtype:
            raise RuntimeError(f"{op}: attn_mask must be bool or have the query's dtype {query.dtype}, "
                               f"got {attn_mask.dtype}")
        scores = batch + (query.shape[-2], key.shape[-2])
        try:
            if np.broadcast_shapes(attn_mask.shape, scores) != scores:
                raise ValueError
        except ValueError:
            raise RuntimeError(f"{op}: attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                               f"the attention scores' shape {scores}") from None
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True "
                           "(fold the causal mask into attn_mask instead)")
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"{op}: dropout probability has to be between 0 and 1, but got {dropout_p}")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query keyᵀ · scale + mask) value, for query (..., L, E), key (..., S, E), value (..., S, Ev).

    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., L, S).
    is_causal: query i sees keys 0..i (lower-triangular, top-left aligned when L != S); giving it together
    with attn_mask is an error, as in PyTorch's reference implementation. dropout_p: dropout on the attention weights
    (always applied when > 0: pass 0.0 in eval mode). scale: defaults to 1/√E. enable_gqa: key and value
    may have fewer heads (dim -3) than query, each one shared by a group of query heads.
    """
    if enable_gqa and min(query.ndim, key.ndim, value.ndim) >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(key, query.shape[-3]), _repeat_heads(value, query.shape[-3])
    _check_inputs(query, key, value, attn_mask, dropout_p, is_causal)
    xp = backend.get_array_module(query.data)
    L, S = query.shape[-2], key.shape[-2]
    blocked = None  # where -inf goes: a bool array broadcastable to (..., L, S)
    if attn_mask is not None and attn_mask.dtype == np.bool_:
        blocked = ~unwrap(attn_mask)
    if is_causal:
        blocked = xp.triu(xp.ones((L, S), dtype=bool), 1)
    bias = None if blocked is None else xp.where(blocked, -np.inf, 0.0).astype(query.dtype)
    if attn_mask is not None and attn_mask.dtype != np.bool_:
        bias = attn_mask  # a float mask is an input of the op: its gradient is dS
    dead_rows = xp.ones((L, 1), dtype=bool) if S == 0 else None  # no keys at all: zeros, as torch
    if bias is not None:
        dead = xp.all(unwrap(bias) == -np.inf, axis=-1, keepdims=True)  # (..., L, 1)
        dead_rows = dead if bool(dead.any()) else None
    keep = None
    if dropout_p > 0:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
        kept = config.rng.random(batch + (L, S)) >= dropout_p
        factor = 0.0 if dropout_p == 1 else 1.0 / (1.0 - dropout_p)
        keep = backend.to_device((kept * factor).astype(query.dtype), query.device)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    fn = ScaledDotProductAttention(scale, dead_rows, keep)
    return fn(query, key, value) if bias is None else fn(query, key, value, bias)
