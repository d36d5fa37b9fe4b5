"""nn.init against torch.nn.init: gains and fans exactly, distributions by their bounds and statistics."""
import math
from unittest import mock

import numpy as np
import pytest
import scipy.stats
import torch

import minigrad as mg
import minigrad.nn as nn

SHAPES = [(300, 200), (64, 16, 3, 3), (40, 30, 5)]


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("selu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)),
])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("nonlinearity, param", [("swish", None), ("leaky_relu", "0.1"), ("leaky_relu", True)])
def test_calculate_gain_rejects_what_torch_rejects(nonlinearity, param):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError, match="calculate_gain"):
        nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", SHAPES + [(3, 0), (2, 3, 0, 4)])
def test_fan_in_and_fan_out_equal_torch(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(mg.zeros(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    for mode in ("fan_in", "fan_out", "FAN_IN"):
        assert nn.init._calculate_correct_fan(mg.zeros(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(torch.zeros(*shape), mode)


def test_fans_need_two_dimensions_and_a_known_mode_as_torch():
    for lib in (torch, mg):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            lib.nn.init._calculate_fan_in_and_fan_out(lib.zeros(5))
        with pytest.raises(ValueError, match="Mode fan_avg not supported"):
            lib.nn.init.kaiming_uniform_(lib.zeros(3, 4), mode="fan_avg")


INITS = [  # (function, keyword arguments, is the law uniform?)
    ("uniform_", {"a": -0.3, "b": 0.7}, True),
    ("normal_", {"mean": 0.5, "std": 0.2}, False),
    ("xavier_uniform_", {"gain": 1.7}, True),
    ("xavier_normal_", {"gain": 0.8}, False),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, True),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, True),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out"}, False),
    ("kaiming_normal_", {"nonlinearity": "tanh"}, False),
    ("trunc_normal_", {"mean": 0.1, "std": 0.5, "a": -0.4, "b": 1.0}, False),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn, kwargs, uniform", INITS)
def test_init_draws_torch_distribution(fn, kwargs, uniform, shape):
    """Same support and same distribution: extremes agree for bounded laws, and a two-sample
    Kolmogorov-Smirnov test cannot tell 60 000 of our draws from 60 000 of torch's."""
    mg.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(nn.init, fn)(mg.zeros(*shape, dtype=np.float64), **kwargs).numpy().ravel()
    theirs = getattr(torch.nn.init, fn)(torch.zeros(*shape, dtype=torch.float64), **kwargs).numpy().ravel()
    n = min(ours.size, theirs.size, 60_000)
    assert scipy.stats.ks_2samp(ours[:n], theirs[:n]).pvalue > 1e-4
    np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.03)
    if uniform:  # bounds: both reach within 0.2% of the same edge
        np.testing.assert_allclose([ours.min(), ours.max()], [theirs.min(), theirs.max()], rtol=2e-3, atol=2e-3)
    if fn == "trunc_normal_":
        assert ours.min() >= kwargs["a"] and ours.max() <= kwargs["b"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn, kwargs, uniform", [case for case in INITS if case[0].startswith(("xavier", "kaiming"))])
def test_init_bounds_and_stds_equal_torch_exactly(fn, kwargs, uniform, shape):
    """The (low, high) or (mean, std) each init hands to its sampler, recorded in both libraries."""
    sampler = "uniform_" if uniform else "normal_"
    seen, seen_t = [], []

    def record_torch(tensor, a, b, generator=None):
        seen_t.append((a, b))
        return tensor

    def record_ours(tensor, a, b, generator=None):
        seen.append((a, b))
        return tensor

    with mock.patch.object(torch.Tensor, sampler, record_torch):
        getattr(torch.nn.init, fn)(torch.zeros(*shape), **kwargs)
    with mock.patch.object(nn.init, sampler, record_ours):
        getattr(nn.init, fn)(mg.zeros(*shape), **kwargs)
    assert len(seen) == len(seen_t) == 1
    np.testing.assert_allclose(seen[0], seen_t[0], rtol=1e-15, atol=0)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (8, 2, 3), (7, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_gain(shape):
    w = nn.init.orthogonal_(mg.zeros(*shape, dtype=np.float64), gain=2.5).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w  # the smaller Gram matrix is gain² · I
    np.testing.assert_allclose(gram, 2.5 ** 2 * np.eye(min(rows, cols)), atol=1e-12)
    t = torch.nn.init.orthogonal_(torch.zeros(*shape, dtype=torch.float64), gain=2.5).reshape(shape[0], -1)
    gram_t = t @ t.T if rows <= cols else t.T @ t  # torch's obeys the same law
    np.testing.assert_allclose(gram_t.numpy(), 2.5 ** 2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_haar_distributed_like_torch():
    """Entries of a Haar-random orthogonal n×n matrix have variance 1/n; compare 400 draws with torch's."""
    ours = np.concatenate([nn.init.orthogonal_(mg.zeros(6, 6, dtype=np.float64)).numpy().ravel() for _ in range(400)])
    theirs = np.concatenate([torch.nn.init.orthogonal_(torch.zeros(6, 6, dtype=torch.float64)).numpy().ravel()
                             for _ in range(400)])
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-4
    np.testing.assert_allclose(ours.var(), 1 / 6, rtol=0.05)


def test_trunc_normal_moments_match_the_closed_form():
    mean, std, a, b = 0.1, 0.5, -0.4, 1.0
    x = nn.init.trunc_normal_(mg.zeros(200_000, dtype=np.float64), mean, std, a, b).numpy()
    law = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(x.mean() - law.mean()) < 5 * law.std() / math.sqrt(x.size)
    np.testing.assert_allclose(x.std(), law.std(), rtol=0.01)


def test_trunc_normal_far_in_the_tail_still_fills_every_entry():
    x = nn.init.trunc_normal_(mg.zeros(1000, dtype=np.float64), a=3.0, b=3.5).numpy()
    assert x.min() >= 3.0 and x.max() <= 3.5


@pytest.mark.parametrize("fn, args", [("constant_", (0.25,)), ("ones_", ()), ("zeros_", ()), ("eye_", ())])
def test_deterministic_inits_equal_torch(fn, args):
    ours = getattr(nn.init, fn)(mg.tensor(np.full((3, 4), 9.0)), *args)
    theirs = getattr(torch.nn.init, fn)(torch.full((3, 4), 9.0, dtype=torch.float64), *args)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_init_works_in_place_on_parameters_and_keeps_dtype():
    layer = nn.Linear(4, 3)
    weight = layer.weight
    out = nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    assert out is weight and layer.weight is weight and weight.dtype == np.float32
    assert weight.grad is None and weight.requires_grad


def test_kaiming_on_an_empty_tensor_warns_like_torch():
    with pytest.warns(UserWarning, match="zero-element"):
        torch.nn.init.kaiming_uniform_(torch.zeros(0, 3))
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(mg.zeros(0, 3))
