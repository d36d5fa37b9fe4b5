"""TopK with error feedback, FP16, NoCompression: exact bookkeeping and agreement with PyTorch."""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn.functional as F
import minigrad.optim
from minigrad.compress import FP16, QSGD, NoCompression, TopK


def test_topk_error_feedback_conserves_the_sum_exactly():
    # Dyadic gradients (multiples of 2**-12 below 2**8): every float64 sum is exact, so
    # sum of what was sent + final residual must equal sum of gradients to the last bit.
    rng = np.random.default_rng(0)
    topk = TopK(0.05)
    for key in ["layer1", "layer2"]:
        grads = rng.integers(-2**20, 2**20, (30, 777)) * 2.0**-12
        sent = sum(topk.decompress(topk.compress(g, key=key)).astype(np.float64) for g in grads)
        assert np.array_equal(sent + topk.residuals[key], grads.sum(axis=0))


def test_topk_residual_keeps_the_float32_rounding_of_float64_gradients():
    rng = np.random.default_rng(1)
    topk = TopK(0.1)
    grads = rng.standard_normal((20, 1000))
    sent = sum(topk.decompress(topk.compress(g)).astype(np.float64) for g in grads)
    # float32 rounding of the sent values alone would leave errors ~1e-7; the residual holds them
    np.testing.assert_allclose(sent + topk.residuals[None], grads.sum(axis=0), rtol=0, atol=1e-12)


def test_topk_keeps_the_largest_magnitudes_like_torch_topk():
    x = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    topk = TopK(0.03)
    kept = np.flatnonzero(topk.decompress(topk.compress(x)))
    expected = torch.topk(torch.from_numpy(np.abs(x)), 30).indices.numpy()
    assert np.array_equal(kept, np.sort(expected))
    assert topk.compress(x, key="other").nbytes == 8 + 12 + 8 * 30


def test_topk_ratio_one_equals_dense_training_exactly():
    rng = np.random.default_rng(3)
    X = mg.tensor(rng.standard_normal((64, 6)).astype(np.float32))
    y = mg.tensor(rng.standard_normal((64, 1)).astype(np.float32))

    def train(compressor):
        mg.manual_seed(0)
        net = mg.nn.Sequential(mg.nn.Linear(6, 16), mg.nn.Tanh(), mg.nn.Linear(16, 1))
        opt = minigrad.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        history = []
        for _ in range(15):
            opt.zero_grad()
            F.mse_loss(net(X), y).backward()
            for name, p in net.named_parameters():
                if compressor is not None:
                    flat = compressor.decompress(compressor.compress(p.grad.data.ravel(), key=name))
                    p.grad.data = flat.reshape(p.shape)
            opt.step()
            history.append([p.data.copy() for p in net.parameters()])
        return history

    dense, compressed = train(None), train(TopK(1.0))
    for step_dense, step_compressed in zip(dense, compressed):
        for a, b in zip(step_dense, step_compressed):
            assert np.array_equal(a, b)


def test_topk_rejects_bad_ratio_and_shape_change():
    for ratio in [0, -0.1, 1.5]:
        with pytest.raises(ValueError, match="ratio"):
            TopK(ratio)
    topk = TopK(0.5)
    topk.compress(np.ones(10, np.float32), key="w")
    with pytest.raises(ValueError, match="key 'w' had 10 coordinates before, now 12"):
        topk.compress(np.ones(12, np.float32), key="w")


def test_fp16_matches_torch_half_after_dividing_by_world_size():
    x = np.random.default_rng(4).standard_normal(5000).astype(np.float32) * 100
    fp16 = FP16(world_size=3)
    expected = (torch.from_numpy(x) / 3).half().float().numpy()
    assert np.array_equal(fp16.decompress(fp16.compress(x)), expected)
    assert fp16.compress(x).nbytes == 8 + 8 + 2 * 5000


def test_fp16_predivide_keeps_the_sum_of_four_ranks_finite():
    ranks = [np.full(100, 30000.0, np.float32) + r for r in range(4)]
    naive = sum(torch.from_numpy(x).half() for x in ranks)          # summing in fp16 overflows
    assert torch.isinf(naive).all()
    fp16 = FP16(world_size=4)
    mean = fp16.aggregate([fp16.compress(x) for x in ranks])
    expected = (torch.stack([torch.from_numpy(x) / 4 for x in ranks]).half().float()).sum(0)
    assert np.all(np.isfinite(mean)) and np.array_equal(mean, expected.numpy())


def test_fp16_overflow_after_division_raises():
    with pytest.raises(ValueError, match="overflows float16"):
        FP16(world_size=2).compress(np.array([1.0, 2e5], np.float32))


def test_no_compression_is_exact_for_float32():
    x = np.random.default_rng(5).standard_normal(777).astype(np.float32)
    none = NoCompression()
    assert np.array_equal(none.decompress(none.compress(x)), x)
    assert none.compress(x).nbytes == 8 + 8 + 4 * 777


@pytest.mark.parametrize("make", [lambda: TopK(0.1), FP16, NoCompression, lambda: QSGD(4, 64, seed=0)])
def test_every_payload_rejects_truncation_corruption_and_wrong_kind(make):
    compressor = make()
    payload = compressor.compress(np.random.default_rng(6).standard_normal(300).astype(np.float32))
    assert payload.dtype == np.uint8 and payload.ndim == 1
    name = type(getattr(compressor, "compressor", compressor)).__name__ + ".decompress"  # TopK: inner
    for size in [0, 7, 12, payload.size - 1]:
        with pytest.raises(ValueError, match=name):
            compressor.decompress(payload[:size].copy())
    for bit in np.random.default_rng(7).choice(8 * payload.size, 20, replace=False):
        broken = payload.copy()
        broken[bit // 8] ^= np.uint8(1 << (bit % 8))
        with pytest.raises(ValueError, match=name):
            compressor.decompress(broken)
    other = FP16() if not isinstance(compressor, FP16) else NoCompression()
    with pytest.raises(ValueError, match="kind"):
        compressor.decompress(other.compress(np.ones(3, np.float32)))
