"""F.scaled_dot_product_attention against torch's: values, gradients, double backward, masks, errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
import torch.nn.attention

import minigrad as mg
import minigrad.nn.functional as F
from op_check import check

TF = torch.nn.functional

rng = np.random.default_rng(0)
BOOL_MASK = rng.random((5, 6)) > 0.4
BOOL_MASK[:, 0] = True  # every query sees at least one key
FLOAT_MASK = rng.standard_normal((2, 1, 5, 6))
DEAD_ROW_MASK = BOOL_MASK.copy()
DEAD_ROW_MASK[2] = False  # query 2 may see nothing: torch returns zeros there


CASES = {  # name: (q, k, v shapes, keyword arguments; a numpy mask becomes a tensor of the library's kind)
    "plain": ([(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)], {}),
    "causal_square": ([(2, 3, 6, 4), (2, 3, 6, 4), (2, 3, 6, 4)], {"is_causal": True}),
    "causal_fewer_queries": ([(2, 5, 4), (2, 6, 4), (2, 6, 2)], {"is_causal": True}),
    "causal_more_queries": ([(2, 7, 4), (2, 6, 4), (2, 6, 2)], {"is_causal": True}),
    "bool_mask": ([(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)], {"attn_mask": BOOL_MASK}),
    "float_mask": ([(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)], {"attn_mask": FLOAT_MASK}),
    "fully_masked_row": ([(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)], {"attn_mask": DEAD_ROW_MASK}),
    "scale": ([(2, 5, 4), (2, 6, 4), (2, 6, 3)], {"scale": 0.3}),
    "broadcast_batch": ([(1, 3, 5, 4), (2, 1, 6, 4), (2, 3, 6, 3)], {"is_causal": True}),
    "two_dims": ([(5, 4), (6, 4), (6, 3)], {}),
    "grouped_query": ([(2, 6, 5, 4), (2, 3, 7, 4), (2, 3, 7, 2)], {"enable_gqa": True, "is_causal": True}),
    "grouped_query_3d": ([(6, 5, 4), (2, 7, 4), (2, 7, 2)], {"enable_gqa": True}),
    "no_queries": ([(2, 0, 4), (2, 3, 4), (2, 3, 5)], {"is_causal": True}),
    "no_keys": ([(2, 3, 4), (2, 0, 4), (2, 0, 5)], {}),
    "empty_batch": ([(0, 3, 4), (0, 3, 4), (0, 3, 4)], {"is_causal": True}),
}


def _sdpa(kwargs):
    """One function for both libraries: only ``lib`` (minigrad or torch) differs."""
    def fn(lib, q, k, v):
        kw = dict(kwargs)
        if "attn_mask" in kw:
            mask = kw["attn_mask"]
            dtype = str(q.dtype).replace("torch.", "")  # a float mask takes the query's dtype
            kw["attn_mask"] = lib.tensor(mask if mask.dtype == bool else mask.astype(dtype))
        return lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
    return fn


@pytest.mark.parametrize("name", CASES)
def test_sdpa_forward_and_gradients_vs_torch(name):
    shapes, kwargs = CASES[name]
    check(shapes, _sdpa(kwargs), lib=True, double=False)  # against torch's fused CPU kernel


@pytest.mark.parametrize("name", ["plain", "causal_square", "float_mask", "fully_masked_row", "broadcast_batch",
                                  "grouped_query"])
def test_sdpa_double_backward_vs_torch(name):
    shapes, kwargs = CASES[name]
    # torch's fused kernel has no double backward; its reference ("math") kernel has
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        check(shapes, _sdpa(kwargs), lib=True, dtypes=(np.float64,))


def test_sdpa_gradient_reaches_a_float_mask_like_torch():
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        check([(2, 5, 4), (2, 6, 4), (2, 6, 3), (5, 6)],
              lambda lib, q, k, v, m: lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m), lib=True)


def test_sdpa_dropout_keeps_expectation_and_zero_is_exact():
    q, k, v = (mg.tensor(rng.standard_normal(s)) for s in [(1, 4, 3), (1, 6, 3), (1, 6, 2)])
    exact = F.scaled_dot_product_attention(q, k, v).numpy()
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy(), exact)
    mg.manual_seed(0)
    # The mean of many dropped-out outputs is the exact one: E[mask / (1-p)] = 1.
    samples = np.stack([F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).numpy() for _ in range(4000)])
    stderr = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - exact) < 5 * stderr + 1e-12)
    assert not np.allclose(samples[0], exact)  # dropout really happened
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(), 0 * exact)


def test_sdpa_dropout_gradient_matches_the_same_mask_by_hand():
    """With dropout, the gradient must be that of softmax(S)·mask/(1-p) @ V for the mask actually drawn."""
    q, k, v = (mg.tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 4, 3), (2, 5, 3), (2, 5, 2)])
    mg.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    out.backward(mg.tensor(np.ones(out.shape)))
    mg.manual_seed(3)
    kept = (mg.config.rng.random((2, 4, 5)) >= 0.4) / 0.6  # the same draw
    qt, kt, vt = (torch.tensor(t.numpy(), requires_grad=True) for t in (q, k, v))
    out_t = torch.softmax(qt @ kt.transpose(-1, -2) / np.sqrt(3), -1) * torch.tensor(kept) @ vt
    out_t.backward(torch.ones_like(out_t))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10)
    for ours, theirs in zip((q, k, v), (qt, kt, vt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shapes, kwargs, match", [
    ([(2, 5, 4), (2, 6, 3), (2, 6, 3)], {}, "need query"),
    ([(2, 5, 4), (2, 6, 4), (2, 7, 3)], {}, "need query"),
    ([(5,), (6,), (6,)], {}, "at least 2-D"),
    ([(2, 5, 4), (3, 6, 4), (3, 6, 4)], {}, "do not broadcast"),
    ([(2, 5, 4), (2, 6, 4), (2, 6, 4)], {"attn_mask": np.zeros((5, 5), bool)}, r"attn_mask of shape \(5, 5\)"),
    ([(2, 5, 4), (2, 6, 4), (2, 6, 4)], {"attn_mask": np.zeros((5, 6), np.int64)}, "must be bool"),
    ([(2, 5, 4), (2, 6, 4), (2, 6, 4)], {"dropout_p": 1.5}, "dropout probability"),
    ([(2, 6, 5, 4), (2, 4, 6, 4), (2, 4, 6, 4)], {"enable_gqa": True}, "must divide the number of heads"),
    ([(2, 5, 4), (2, 6, 4), (2, 6, 4)], {"attn_mask": np.ones((5, 6), bool), "is_causal": True},
     "attn_mask should not be set when is_causal=True"),
])
def test_sdpa_bad_input_raises_like_torch(shapes, kwargs, match):
    arrays = [rng.standard_normal(s) for s in shapes]
    with pytest.raises(RuntimeError):  # torch refuses the same call (on its reference path: inputs needing grad)
        TF.scaled_dot_product_attention(*(torch.tensor(a, requires_grad=True) for a in arrays),
                                        **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                           for k, v in kwargs.items()})
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention: .*" + match):
        F.scaled_dot_product_attention(*map(mg.tensor, arrays),
                                       **{k: mg.tensor(v) if isinstance(v, np.ndarray) else v
                                          for k, v in kwargs.items()})


def test_sdpa_float_mask_of_another_dtype_is_refused():
    """PyTorch documents the mask as bool or the query's dtype (its fused kernel refuses others; its
    reference kernel silently promotes): we refuse rather than compute in a dtype nobody asked for."""
    q = mg.tensor(rng.standard_normal((2, 5, 4)))
    with pytest.raises(RuntimeError, match="attn_mask must be bool or have the query's dtype float64"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mg.tensor(np.zeros((5, 5), np.float32)))


def test_sdpa_mixed_dtypes_raise_like_torch():
    q = rng.standard_normal((2, 5, 4))
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(torch.tensor(q).float(), torch.tensor(q), torch.tensor(q))
    with pytest.raises(RuntimeError, match="one floating dtype"):
        F.scaled_dot_product_attention(mg.tensor(q, dtype=np.float32), mg.tensor(q), mg.tensor(q))


@settings(max_examples=25, deadline=None)
@given(batch=st.lists(st.integers(0, 3), max_size=2), L=st.integers(0, 6), S=st.integers(0, 6),
       E=st.integers(1, 5), Ev=st.integers(1, 4), causal=st.booleans(), mask=st.sampled_from([None, "bool", "float"]),
       seed=st.integers(0, 2**16))
def test_sdpa_random_shapes_and_masks_vs_torch(batch, L, S, E, Ev, causal, mask, seed):
    kwargs = {"is_causal": causal} if mask is None or not causal else {}
    if mask is not None:
        draw = np.random.default_rng(seed)
        kwargs["attn_mask"] = draw.random((L, S)) > 0.3 if mask == "bool" else draw.standard_normal((L, S))
    b = tuple(batch)
    check([b + (L, E), b + (S, E), b + (S, Ev)], _sdpa(kwargs), lib=True, double=False, seed=seed)
