"""Error feedback as a wrapper around any compressor; EF-signSGD's scaled sign.

Telescoping (Karimireddy et al. 2019, Algorithm 2): with e_t = g_t + e_{t-1} - sent_t,
    sum_t sent_t + e_T = sum_t g_t,
where sent_t is what the receivers decode times the world size. In float64 the
only difference is the rounding of the e_t updates (1e-12 here); a compressor
that dropped its residual would be off by O(1).
"""
import numpy as np
import pytest

from minigrad.compress import (FP16, QSGD, EFSign, ErrorFeedback, NoCompression, ScaledSign, TopK,
                               TopKSparsifier)

COMPRESSORS = {
    "topk": lambda p: TopKSparsifier(0.05, world_size=p),
    "sign": lambda p: ScaledSign(world_size=p),
    "qsgd": lambda p: QSGD(16, 64, seed=0, world_size=p),     # contractive: variance <= ||x||^2 / 4
    "fp16": lambda p: FP16(world_size=p),
    "none": lambda p: NoCompression(world_size=p),
}


@pytest.mark.parametrize("world_size", [1, 4])
@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_sent_plus_final_residual_is_the_sum_of_the_gradients(name, world_size):
    rng = np.random.default_rng(0)
    ef = ErrorFeedback(COMPRESSORS[name](world_size))
    for key in ["bucket0", "bucket1"]:
        grads = rng.standard_normal((40, 500)) * rng.uniform(0.1, 10, (40, 1))
        sent = sum(ef.decompress(ef.compress(g, key=key)).astype(np.float64) * world_size
                   for g in grads)
        np.testing.assert_allclose(sent + ef.residuals[key], grads.sum(axis=0), rtol=0, atol=1e-12)
        if name in ("topk", "sign", "qsgd"):                 # lossy: the residual is not zero
            assert np.abs(ef.residuals[key]).max() > 1e-3


def test_topk_is_error_feedback_around_the_sparsifier():
    rng = np.random.default_rng(1)
    topk, wrapped = TopK(0.1), ErrorFeedback(TopKSparsifier(0.1))
    for _ in range(5):
        g = rng.standard_normal(300)
        assert np.array_equal(topk.compress(g, key=0), wrapped.compress(g, key=0))
    assert np.array_equal(topk.residuals[0], wrapped.residuals[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("make", [lambda: TopK(0.1), EFSign, lambda: ErrorFeedback(QSGD(4, 32, seed=1))])
def test_a_non_finite_gradient_is_passed_through_and_never_poisons_the_residual(make, bad):
    # The old TopK added the NaN to its residual: every later output was NaN.
    rng = np.random.default_rng(2)
    ef = make()
    grads = [rng.standard_normal(200) for _ in range(6)]
    for g in grads[:3]:
        ef.compress(g, key="w")
    residual = ef.residuals["w"].copy()
    broken = grads[3].copy()
    broken[17] = bad
    out = ef.decompress(ef.compress(broken, key="w"))
    np.testing.assert_array_equal(out, broken.astype(np.float32))     # sent as is, flagged dense
    np.testing.assert_array_equal(ef.residuals["w"], residual)        # the memory is untouched
    assert ef.skipped == 1
    later = [ef.decompress(ef.compress(g, key="w")) for g in grads[4:]]
    assert all(np.all(np.isfinite(x)) for x in later)
    # the identity holds over the finite steps
    finite = grads[:3] + grads[4:]
    again = make()
    total = sum(again.decompress(again.compress(g, key="w")).astype(np.float64) for g in finite)
    np.testing.assert_allclose(total + again.residuals["w"], np.sum(finite, axis=0), rtol=0, atol=1e-12)


def test_scaled_sign_is_mean_magnitude_times_sign():
    x = np.random.default_rng(3).standard_normal(1001)
    x[5] = 0.0
    out = ScaledSign().decompress(ScaledSign().compress(x))
    scale = np.float32(np.abs(x).sum() / x.size)
    expected = np.where(x < 0, -scale, scale)                # sign(0) travels as +1
    np.testing.assert_array_equal(out, expected)
    assert ScaledSign().compress(x).nbytes == 8 + 12 + 126   # envelope, header, ceil(1001 / 8) bytes


def test_scaled_sign_divides_by_the_world_size_and_rejects_corruption():
    x = np.random.default_rng(4).standard_normal(64).astype(np.float32)
    sign = ScaledSign(world_size=4)
    payload = sign.compress(x)
    np.testing.assert_allclose(sign.decompress(payload) * 4, ScaledSign().decompress(ScaledSign().compress(x)),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="ScaledSign.decompress"):
        sign.decompress(payload[:-1].copy())
    with pytest.raises(ValueError, match="inf/NaN"):
        sign.compress(np.array([1.0, np.nan]))


def test_ef_sign_converges_where_plain_sign_does_not():
    # Karimireddy et al. 2019, Sec. 3: on a least-squares problem, scaled sign without
    # memory stalls at a biased point; with error feedback it reaches the optimum.
    rng = np.random.default_rng(5)
    A = rng.standard_normal((50, 20)) * np.linspace(0.5, 1.5, 20)
    b = rng.standard_normal(50)
    w_star = np.linalg.lstsq(A, b, rcond=None)[0]

    def run(compressor, steps=3000, lr=0.1):
        w = np.zeros(20)
        for _ in range(steps):
            g = A.T @ (A @ w - b) / 50
            w -= lr * compressor.decompress(compressor.compress(g, key=0))
        return np.linalg.norm(w - w_star)

    with_memory, without = run(EFSign()), run(ScaledSign())
    assert with_memory < 1e-8 and without > 1e-4, (with_memory, without)


def test_error_feedback_rejects_what_it_cannot_wrap():
    with pytest.raises(TypeError, match="ErrorFeedback"):
        ErrorFeedback(lambda x: x)
    with pytest.raises(TypeError, match="already"):
        ErrorFeedback(TopK(0.1))
    ef = TopK(0.5)
    ef.compress(np.ones(4), key="a")
    with pytest.raises(ValueError, match="key 'a' had 4"):
        ef.compress(np.ones(5), key="a")
