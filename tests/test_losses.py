"""cross_entropy and nll_loss against torch: every option, values, gradients, double backward, errors."""
import numpy as np
import pytest

from op_check import check, check_error

rng = np.random.default_rng(0)
T4 = np.array([0, 3, 1, 3])  # targets for 4 rows, 4 classes
T4_IGNORED = np.array([0, -100, 2, 3])
T4_CUSTOM_IGNORE = np.array([1, 2, 2, 0])  # with ignore_index=2
T_SPATIAL = rng.integers(0, 4, (2, 3, 2))  # (N, d1, d2) for input (N, C, d1, d2)
T_SPATIAL[0, 1, 1] = -100
W4 = np.array([0.5, 2.0, 1.0, 0.25])
PROBS = rng.dirichlet(np.ones(4), size=4)  # rows sum to 1
PROBS_SPATIAL = np.moveaxis(rng.dirichlet(np.ones(4), size=(2, 3)), -1, 1)  # (2, 4, 3)


def _const(lib, array, like=None):
    """A constant tensor of the library in use; float arrays take the input's dtype."""
    t = lib.tensor(array)
    return t if like is None else t.to(like.dtype)


def _ce(target, float_target=False, **kwargs):
    def fn(lib, x):
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = _const(lib, kw["weight"], x)
        t = _const(lib, target, x if float_target else None)
        return lib.nn.functional.cross_entropy(x, t, **kw)
    return fn


def _nll(target, **kwargs):
    def fn(lib, x):
        kw = dict(kwargs)
        if "weight" in kw:
            kw["weight"] = _const(lib, kw["weight"], x)
        return lib.nn.functional.nll_loss(x, _const(lib, target), **kw)
    return fn


CE_CASES = {  # name: (input shape, target, is the target class probabilities?, keyword arguments)
    "plain": ((4, 4), T4, False, {}),
    "ignore_index": ((4, 4), T4_IGNORED, False, {}),
    "custom_ignore_index": ((4, 4), T4_CUSTOM_IGNORE, False, {"ignore_index": 2}),
    "weight": ((4, 4), T4, False, {"weight": W4}),
    "weight_ignore": ((4, 4), T4_IGNORED, False, {"weight": W4}),
    "smoothing": ((4, 4), T4, False, {"label_smoothing": 0.1}),
    "smoothing_ignore": ((4, 4), T4_IGNORED, False, {"label_smoothing": 0.2}),
    "smoothing_weight_ignore": ((4, 4), T4_IGNORED, False, {"weight": W4, "label_smoothing": 0.3}),
    "smoothing_one": ((4, 4), T4, False, {"label_smoothing": 1.0}),
    "spatial": ((2, 4, 3, 2), T_SPATIAL, False, {"weight": W4, "label_smoothing": 0.1}),
    "unbatched": ((4,), np.array(2), False, {"weight": W4, "label_smoothing": 0.1}),
    "probabilities": ((4, 4), PROBS, True, {}),
    "probabilities_weight_smoothing": ((4, 4), PROBS, True, {"weight": W4, "label_smoothing": 0.15}),
    "probabilities_spatial": ((2, 4, 3), PROBS_SPATIAL, True, {"weight": W4}),
    "probabilities_unbatched": ((4,), PROBS[0], True, {}),
    "all_ignored": ((4, 4), np.full(4, -100), False, {}),  # torch: nan loss for 'mean', zero gradients
    "all_ignored_smoothing": ((4, 4), np.full(4, -100), False, {"label_smoothing": 0.1}),
    "zero_total_weight": ((4, 4), np.zeros(4, np.int64), False, {"weight": np.array([0.0, 1, 1, 1])}),  # nan grads
    "empty_batch": ((0, 4), np.zeros(0, np.int64), False, {}),
}


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # zero_total_weight: nan, as torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", CE_CASES)
def test_cross_entropy_vs_torch(name, reduction):
    shape, target, probabilities, kwargs = CE_CASES[name]
    check([shape], _ce(target, probabilities, reduction=reduction, **kwargs), lib=True)


NLL_CASES = {  # name: (input shape, target, keyword arguments)
    "plain": ((4, 4), T4, {}),
    "weight_ignore": ((4, 4), T4_IGNORED, {"weight": W4}),
    "custom_ignore_index": ((4, 4), T4_CUSTOM_IGNORE, {"ignore_index": 2}),
    "spatial": ((2, 4, 3, 2), T_SPATIAL, {"weight": W4}),
    "unbatched": ((4,), np.array(1), {}),
    "all_ignored": ((4, 4), np.full(4, -100), {"weight": W4}),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", NLL_CASES)
def test_nll_loss_vs_torch(name, reduction):
    shape, target, kwargs = NLL_CASES[name]
    check([shape], _nll(target, reduction=reduction, **kwargs), lib=True)


def test_cross_entropy_equals_nll_of_log_softmax():
    check([(5, 3)], lambda lib, x: lib.nn.functional.nll_loss(
        lib.nn.functional.log_softmax(x, dim=1), lib.tensor(np.array([0, 2, 1, 1, 2]))), lib=True)


@pytest.mark.parametrize("shape, fn, error, match", [
    ((4, 4), _ce(T4, label_smoothing=1.5), RuntimeError, "label_smoothing must be between 0.0 and 1.0"),
    ((4, 4), _ce(T4, weight=W4[:3]), RuntimeError, "weight tensor should be defined either for all 4 classes"),
    ((4, 4), _ce(np.array([0, 1, 4, 2])), IndexError, "target 4 is out of range for 4 classes"),
    ((4, 4), _ce(np.array([0, 1, -1, 2])), IndexError, "target -1 is out of range for 4 classes"),
    ((4, 4), _ce(PROBS, float_target=True, ignore_index=1), RuntimeError, "ignore_index is not supported"),
    ((4, 4), _ce(T4[:3]), ValueError, r"cross_entropy: input of shape \(4, 4\) needs a target of shape \(4,\)"),
    ((4, 4), _ce(PROBS[:, :3], float_target=True), (ValueError, RuntimeError), "cross_entropy: input of shape"),
    ((4, 4), _ce(T4, reduction="avg"), ValueError, "avg is not a valid value for reduction"),
    ((4, 4), _nll(T4.astype(np.float64)), RuntimeError, "nll_loss: expected target dtype to be integer"),
    ((4, 4), _nll(np.array([0, 1, 9, 2])), IndexError, "nll_loss: target 9 is out of range"),
])
def test_loss_bad_input_raises_like_torch(shape, fn, error, match):
    check_error([shape], fn, error, match, lib=True)
