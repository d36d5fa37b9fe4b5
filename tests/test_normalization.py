"""layer_norm / rms_norm / LayerNorm / RMSNorm and the GELU / SiLU activations against torch."""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn
from op_check import check, check_error


@pytest.mark.parametrize("shapes, normalized_shape", [
    ([(2, 3, 5), (5,), (5,)], (5,)),
    ([(2, 3, 5), (3, 5), (3, 5)], [3, 5]),
    ([(4, 6), (6,), (6,)], (6,)),
])
def test_layer_norm_function_vs_torch(shapes, normalized_shape):
    check(shapes, lambda lib, x, w, b: lib.nn.functional.layer_norm(x, normalized_shape, w, b, eps=1e-3), lib=True)
    check(shapes[:1], lambda lib, x: lib.nn.functional.layer_norm(x, normalized_shape), lib=True)


@pytest.mark.parametrize("eps", [None, 1e-2])
def test_rms_norm_function_vs_torch(eps):
    check([(2, 3, 5), (3, 5)], lambda lib, x, w: lib.nn.functional.rms_norm(x, (3, 5), w, eps=eps), lib=True)
    check([(4, 6)], lambda lib, x: lib.nn.functional.rms_norm(x, [6], eps=eps), lib=True)


def test_rms_norm_default_eps_is_the_dtype_epsilon_like_torch():
    """Tiny inputs make eps dominate, so a wrong default shows in the output."""
    x = np.full((2, 4), 1e-5)
    for dtype in (np.float32, np.float64):
        ours = nn.functional.rms_norm(mg.tensor(x, dtype=dtype), (4,)).numpy()
        theirs = torch.nn.functional.rms_norm(torch.tensor(x.astype(dtype)), (4,)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.LayerNorm(5),
    lambda lib: lib.nn.LayerNorm(5, bias=False),
    lambda lib: lib.nn.LayerNorm((3, 5), eps=1e-2, elementwise_affine=False),
    lambda lib: lib.nn.RMSNorm(5),
    lambda lib: lib.nn.RMSNorm([3, 5], eps=1e-3),
    lambda lib: lib.nn.RMSNorm(5, elementwise_affine=False),
])
def test_norm_modules_match_torch_names_values_and_gradients(make, float64):
    ours, theirs = make(mg), make(torch).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 5)) * 3 + 1
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y ** 3).sum().backward()
    (yt ** 3).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_norm_modules_keep_float32():
    for layer in (nn.LayerNorm(4), nn.RMSNorm(4)):
        x = mg.tensor(np.ones((2, 4), np.float32), requires_grad=True)
        y = layer(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("fn, match", [
    (lambda lib, x: lib.nn.functional.layer_norm(x, (4,)), "layer_norm: given normalized_shape"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (3, 2)), "layer_norm: given normalized_shape"),
    (lambda lib, x: lib.nn.functional.rms_norm(x, (4,)), "rms_norm: given normalized_shape"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (3,), lib.ones(4)), "layer_norm: expected weight"),
])
def test_norm_shape_mismatch_raises_like_torch(fn, match):
    check_error([(2, 3)], fn, RuntimeError, match, lib=True)


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.gelu(x),
    lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"),
    lambda lib, x: lib.nn.functional.silu(x),
    lambda lib, x: lib.nn.GELU()(x),
    lambda lib, x: lib.nn.GELU(approximate="tanh")(x),
    lambda lib, x: lib.nn.SiLU()(x),
])
def test_activations_vs_torch(fn):
    check([(3, 7)], fn, lib=True)
