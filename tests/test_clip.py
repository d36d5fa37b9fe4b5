"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils, non-finite cases included."""
import math
import warnings

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (5,), (2, 2, 3)]


def params_with_grads(grads, dtype=np.float64):
    """The same gradients on minigrad and torch leaves (None for a parameter without gradient)."""
    ours, theirs = [], []
    for g in grads:
        shape = (2,) if g is None else g.shape
        p, t = mg.tensor(np.zeros(shape, dtype=dtype), requires_grad=True), torch.zeros(shape, dtype=torch.float64 if dtype == np.float64 else torch.float32, requires_grad=True)
        if g is not None:
            p.grad, t.grad = mg.tensor(g.astype(dtype)), torch.tensor(g.astype(dtype))
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def random_grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in SHAPES]


def assert_same_grads(ours, theirs, rtol=1e-12):
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone (coefficient clamped at 1)
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = random_grads(1, scale=2.0) + [None]
    ours, theirs = params_with_grads(grads)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-13)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_total_norm_is_the_norm_of_all_gradients_as_one_vector(norm_type):
    grads = random_grads(2)
    ours, _ = params_with_grads(grads)
    total = clip_grad_norm_(ours, max_norm=1e9, norm_type=norm_type)
    flat = np.concatenate([g.ravel() for g in grads])
    np.testing.assert_allclose(total.item(), np.linalg.norm(flat, ord=norm_type), rtol=1e-13)


def test_clipped_gradient_has_norm_max_norm_and_same_direction():
    grads = random_grads(3, scale=5.0)
    ours, _ = params_with_grads(grads)
    before = np.concatenate([g.ravel() for g in grads])
    total = clip_grad_norm_(ours, max_norm=1.0).item()
    after = np.concatenate([p.grad.data.ravel() for p in ours])
    np.testing.assert_allclose(np.linalg.norm(after), 1.0 * total / (total + 1e-6), rtol=1e-13)
    np.testing.assert_allclose(after, before / (total + 1e-6), rtol=1e-13)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_gradients_propagate_exactly_like_torch(norm_type, bad):
    grads = random_grads(4)
    grads[1][2] = bad
    ours, theirs = params_with_grads(grads)
    total = clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), equal_nan=True)
    assert_same_grads(ours, theirs)
    assert not all(np.isfinite(p.grad.data).all() for p in ours)  # the damage really happened


def test_error_if_nonfinite_raises_and_leaves_gradients_untouched():
    grads = random_grads(5)
    grads[0][0, 0] = math.nan
    ours, _ = params_with_grads(grads)
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is nan"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ours[1].grad.data, grads[1])


def test_clip_grad_norm_accepts_a_generator_and_a_single_tensor():
    grads = random_grads(6, scale=3.0)
    ours, theirs = params_with_grads(grads)
    total = clip_grad_norm_((p for p in ours), 0.1)
    expected = torch.nn.utils.clip_grad_norm_((t for t in theirs), 0.1)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-13)
    assert_same_grads(ours, theirs)
    single, single_t = params_with_grads(grads[:1])
    np.testing.assert_allclose(clip_grad_norm_(single[0], 0.1).item(),
                               torch.nn.utils.clip_grad_norm_(single_t[0], 0.1).item(), rtol=1e-13)


def test_clip_grad_norm_without_any_gradient_returns_zero_and_warns_for_empty_generator():
    ours, _ = params_with_grads([None, None])
    assert clip_grad_norm_(ours, 1.0).item() == 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clip_grad_norm_((p for p in []), 1.0)
    assert "empty generator" in str(caught[0].message)


def test_clip_grad_norm_float32_matches_torch_and_stays_float32():
    ours, theirs = params_with_grads(random_grads(7, scale=4.0), dtype=np.float32)
    total = clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in ours)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_same_grads(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("clip_value", [0.3, 10.0])
def test_clip_grad_value_matches_torch_and_returns_none(clip_value):
    grads = random_grads(8, scale=2.0) + [None]
    grads[0][0, 1] = math.nan
    grads[1][0] = -math.inf
    ours, theirs = params_with_grads(grads)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs, rtol=0)


@pytest.mark.cuda
def test_clip_grad_norm_on_cupy_matches_numpy():
    cupy = pytest.importorskip("cupy")
    if not mg.backend.cupy_available():
        pytest.skip("no CUDA device")
    grads = random_grads(9, scale=3.0)
    cpu, _ = params_with_grads(grads)
    gpu = [mg.tensor(np.zeros(g.shape), device="cuda", requires_grad=True) for g in grads]
    for p, g in zip(gpu, grads):
        p.grad = mg.tensor(g, device="cuda")
    total_cpu, total_gpu = clip_grad_norm_(cpu, 0.5, norm_type=3.0), clip_grad_norm_(gpu, 0.5, norm_type=3.0)
    np.testing.assert_allclose(total_gpu.item(), total_cpu.item(), rtol=1e-12)
    for a, b in zip(gpu, cpu):
        np.testing.assert_allclose(cupy.asnumpy(a.grad.data), b.grad.data, rtol=1e-12)
