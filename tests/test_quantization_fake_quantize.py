"""fake_quantize_per_tensor/per_channel_affine against PyTorch's, forward and backward, bit for bit."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import quantization as Q

RANGES = [(0, 255), (-128, 127), (0, 15), (-8, 7), (0, 127), (-1, 1), (3, 3)]


def _inputs(rng, shape, scale):
    """Random values, exact half-integer multiples of the scale, values at/past the clamp edges, specials."""
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(scale) * np.float32(rng.choice([1, 30, 300]))
    flat = x.reshape(-1)
    k = flat.size // 4
    flat[:k] = (rng.integers(-300, 300, k) + np.float32(0.5)) * np.float32(scale)   # ties after * 1/scale
    flat[k:k + 8] = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0, 3e9]
    return x


def _torch_per_tensor(x, gy, scale, zp, qmin, qmax):
    xt = torch.from_numpy(x).requires_grad_()
    y = torch.fake_quantize_per_tensor_affine(xt, scale, zp, qmin, qmax)
    y.backward(torch.from_numpy(gy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("trial", range(12))
def test_per_tensor_forward_and_backward_bitwise_equal_torch(trial):
    rng = np.random.default_rng(trial)
    qmin, qmax = RANGES[trial % len(RANGES)]
    scale = float(rng.choice([0.125, 1.0, 2.0**-7])) if trial % 2 else float(rng.uniform(1e-3, 2.0))
    zp = int(rng.integers(qmin, qmax + 1))
    x = _inputs(rng, (7, 33), scale)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    y_ref, gx_ref = _torch_per_tensor(x, gy, scale, zp, qmin, qmax)
    xm = mg.tensor(x, requires_grad=True)
    y = Q.fake_quantize_per_tensor_affine(xm, scale, zp, qmin, qmax)
    y.backward(mg.tensor(gy))
    np.testing.assert_array_equal(y.data.view(np.uint32), y_ref.view(np.uint32))
    np.testing.assert_array_equal(xm.grad.data.view(np.uint32), gx_ref.view(np.uint32))


def test_per_tensor_rounds_half_to_even_after_multiplying_by_the_reciprocal():
    # 1/0.1 in float32 is 10.0000000149...; x * (1/S) then is not x / S, and torch uses the former.
    scale = 0.1
    x = np.float32([0.05, 0.15, 0.25, 0.35, -0.25, 0.45]) 
    y_ref, _ = _torch_per_tensor(x, np.ones_like(x), scale, 0, -128, 127)
    y = Q.fake_quantize_per_tensor_affine(mg.tensor(x), scale, 0, -128, 127)
    np.testing.assert_array_equal(y.data, y_ref)
    np.testing.assert_array_equal(Q.fake_quantize_per_tensor_affine(mg.tensor(np.float32([0.5, 1.5, 2.5, -0.5])), 1.0, 0, -8, 7).data,
                                  np.float32([0, 2, 2, -0]))


def test_per_tensor_float64_and_tensor_qparams_as_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(100) * 3
    y_ref = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), 0.037, 10, 0, 255).numpy()
    y = Q.fake_quantize_per_tensor_affine(mg.tensor(x), mg.tensor(np.float32([0.037])), mg.tensor(np.int32([10])), 0, 255)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.data, y_ref)


@pytest.mark.parametrize("trial", range(10))
def test_per_channel_forward_and_backward_bitwise_equal_torch(trial):
    rng = np.random.default_rng(100 + trial)
    qmin, qmax = RANGES[trial % len(RANGES)]
    shape, axis = [(6, 40), (3, 5, 8), (4, 9, 2)][trial % 3], [0, 1, 2][trial % 3]
    channels = shape[axis]
    scale = rng.uniform(1e-3, 0.5, channels).astype(np.float32)
    if trial % 2:
        scale[:] = np.float32(2.0**-5)                        # exact reciprocal: true ties
    float_zp = trial % 4 == 3
    zp = (rng.uniform(qmin, qmax, channels).astype(np.float32) if float_zp
          else rng.integers(qmin, qmax + 1, channels).astype(np.int32))
    x = _inputs(rng, shape, float(scale.mean()))
    if trial in (4, 7, 9):                                    # float64 input (7: with float zero points)
        x = x.astype(np.float64) * (1 + 1e-12 * rng.standard_normal(shape))
    gy = rng.standard_normal(shape).astype(x.dtype)
    xt = torch.from_numpy(x).requires_grad_()
    y_ref = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(scale), torch.from_numpy(zp), axis, qmin, qmax)
    y_ref.backward(torch.from_numpy(gy))
    xm = mg.tensor(x, requires_grad=True)
    y = Q.fake_quantize_per_channel_affine(xm, mg.tensor(scale), mg.tensor(zp), axis, qmin, qmax)
    y.backward(mg.tensor(gy))
    assert y.dtype == x.dtype and xm.grad.dtype == x.dtype
    np.testing.assert_array_equal(y.data.view(np.uint8), y_ref.detach().numpy().view(np.uint8))
    np.testing.assert_array_equal(xm.grad.data.view(np.uint8), xt.grad.numpy().view(np.uint8))


def test_bad_arguments_raise_clear_errors():
    x = mg.tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="quant_min .* less than or equal to quant_max"):
        Q.fake_quantize_per_tensor_affine(x, 1.0, 0, 5, 2)
    with pytest.raises(ValueError, match="zero_point .* between"):
        Q.fake_quantize_per_tensor_affine(x, 1.0, 300, 0, 255)
    with pytest.raises(ValueError, match="scale must be positive"):
        Q.fake_quantize_per_tensor_affine(x, 0.0, 0, 0, 255)
    with pytest.raises(TypeError, match="floating"):
        Q.fake_quantize_per_tensor_affine(mg.tensor(np.ones(3, dtype=np.int64)), 1.0, 0, 0, 255)
    with pytest.raises(ValueError, match=r"must both have shape \(3,\)"):
        Q.fake_quantize_per_channel_affine(x, np.float32([1, 1]), np.int32([0, 0]), 1, 0, 255)
    for axis in (2, -1):
        with pytest.raises(ValueError, match=f"axis {axis} is out of range"):
            Q.fake_quantize_per_channel_affine(x, np.float32([1, 1]), np.int32([0, 0]), axis, 0, 255)


def test_float16_inputs_stay_float16_and_match_torch():
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((4, 500)) * 3).astype(np.float16)
    scale, zp = rng.uniform(0.01, 0.1, 4).astype(np.float32), rng.integers(0, 256, 4).astype(np.int32)
    ours = Q.fake_quantize_per_channel_affine(mg.tensor(x), scale, zp, 0, 0, 255).data
    ref = torch.fake_quantize_per_channel_affine(torch.from_numpy(x), torch.from_numpy(scale), torch.from_numpy(zp), 0, 0, 255)
    assert ours.dtype == np.float16
    np.testing.assert_array_equal(ours.view(np.uint16), ref.numpy().view(np.uint16))
    ours = Q.fake_quantize_per_tensor_affine(mg.tensor(x), 0.037, 100, 0, 255).data
    ref = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), 0.037, 100, 0, 255)
    assert ours.dtype == np.float16
    np.testing.assert_array_equal(ours.view(np.uint16), ref.numpy().view(np.uint16))
