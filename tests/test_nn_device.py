"""The nn ops of issue 11 on "cuda" (a GPU, or the CuPy stand-in): no host-only array sneaks in."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from op_check import check


@pytest.mark.parametrize("kwargs", [{"is_causal": True}, {"attn_mask": "float"}, {"attn_mask": "dead_row"}])
def test_sdpa_on_device(device, kwargs):
    def fn(lib, q, k, v):
        kw = dict(kwargs)
        if kw.get("attn_mask") == "float":
            kw["attn_mask"] = lib.tensor(np.linspace(-1, 1, 30).reshape(5, 6)).to(q.device)
        elif kw.get("attn_mask") == "dead_row":
            mask = np.ones((5, 6), bool)
            mask[1] = False
            kw["attn_mask"] = lib.tensor(mask).to(q.device)
        return lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
    check([(2, 5, 4), (2, 6, 4), (2, 6, 3)], fn, lib=True, device=device, dtypes=(np.float64,))


def test_sdpa_dropout_on_device(device):
    q = mg.tensor(np.ones((2, 4, 3)), device=device, requires_grad=True)
    out = nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    out.sum().backward()
    assert out.device == q.grad.device == device


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2, "ignore_index": 1}, {"probabilities": True}])
def test_cross_entropy_on_device(device, kwargs):
    kw = dict(kwargs)
    probabilities = kw.pop("probabilities", False)
    target = np.full((4, 3), 1 / 3) if probabilities else np.array([0, 1, 2, 1])

    def fn(lib, x):
        weight = lib.tensor(np.array([0.5, 1.0, 2.0])).to(x.device)
        return lib.nn.functional.cross_entropy(x, lib.tensor(target).to(x.device), weight=weight, **kw)
    check([(4, 3)], fn, lib=True, device=device, dtypes=(np.float64,))


@pytest.mark.parametrize("norm", ["layer_norm", "rms_norm"])
def test_norms_on_device(device, norm):
    check([(2, 3, 4), (4,)], lambda lib, x, w: getattr(lib.nn.functional, norm)(x, (4,), w), lib=True,
          device=device, dtypes=(np.float64,))


def test_module_with_buffers_moves_and_inits_on_device(device):
    layer = nn.Linear(3, 2)
    layer.register_buffer("mask", mg.ones(2))
    layer.to(device)
    nn.init.kaiming_uniform_(layer.weight)
    nn.init.trunc_normal_(layer.bias, std=0.1)
    assert {layer.weight.device, layer.bias.device, layer.mask.device} == {device}
