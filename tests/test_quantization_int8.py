"""QAT and PTQ of a small MLP, and the real int8 path against the fake-quantized model."""
import copy

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad import quantization as Q


def _spirals(n, rng, classes=3):
    t = rng.uniform(0.1, 1, n)
    c = rng.integers(0, classes, n)
    angle = 4 * t + 2 * np.pi * c / classes
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + 0.15 * t[:, None] * rng.standard_normal((n, 2))
    return (3 * X).astype(np.float32), c


def _train(model, X, y, steps, lr, rng):
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = rng.integers(0, len(X), 128)
        loss = F.cross_entropy(model(mg.tensor(X[idx])), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _accuracy(model, X, y):
    return (model(mg.tensor(X)).data.argmax(1) == y).mean()


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    mg.manual_seed(0)
    X, y = _spirals(2000, rng)
    X_test, y_test = _spirals(2000, rng)
    net = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    _train(net, X, y, 800, 1e-2, rng)
    return net, X, y, X_test, y_test


def _ptq(net, bits, X):
    model = Q.fake_quant_model(copy.deepcopy(net), bits)
    Q.set_fake_quant(model, False)
    model(mg.tensor(X))                  # calibration: observers only
    Q.set_observers(model, False)
    Q.set_fake_quant(model, True)
    return model


def test_fake_quant_linear_shares_the_float_parameters(trained):
    net = trained[0]
    model = Q.fake_quant_model(net, 8)
    assert [id(p) for p in model.parameters()] == [id(p) for p in net.parameters()]


def test_int8_layer_is_int32_exact_and_equals_the_fake_quant_layer(trained):
    net, X = trained[0], trained[1]
    model = _ptq(net, 8, X)
    layer, int_layer = model[0], Q.Int8Linear(model[0])
    x = X[:256]
    assert int_layer.q_weight.dtype == np.int8 and int_layer.quantize_input(x).dtype == np.uint8
    q_x = int_layer.quantize_input(x).astype(np.float64) - int_layer.x_zero_point
    exact = q_x @ int_layer.q_weight.astype(np.float64).T                  # exact in float64 at this size
    y_int = int_layer(x)
    acc = q_x.astype(np.int32) @ int_layer.q_weight.astype(np.int32).T
    np.testing.assert_array_equal(acc, exact)                              # int32 accumulation loses nothing
    # the codes dequantize to exactly what the fake quantizers produce
    w_fq = layer.weight_fake_quant(layer.weight).data
    np.testing.assert_array_equal(int_layer.q_weight.astype(np.float32) * int_layer.w_scale, w_fq)
    y_fq = layer(mg.tensor(x)).data
    terms = np.abs(q_x) @ np.abs(int_layer.q_weight.astype(np.float64)).T * float(int_layer.x_scale * int_layer.w_scale)
    assert (np.abs(y_int - y_fq) <= 4 * np.finfo(np.float32).eps * (terms + np.abs(layer.bias.data))).all()


@pytest.mark.parametrize("bits", [8, 4])
def test_int8_model_predicts_as_the_fake_quant_model(trained, bits):
    net, X, _, X_test, _ = trained
    model = _ptq(net, bits, X)
    logits_fq = model(mg.tensor(X_test)).data
    logits_int = Q.Int8Model(model)(X_test)
    assert (logits_int.argmax(1) == logits_fq.argmax(1)).all()
    assert np.abs(logits_int - logits_fq).max() < 1e-4 * np.abs(logits_fq).max()


def test_qat_beats_ptq_at_three_bits_and_not_by_extra_training(trained):
    """PTQ at 3 bits collapses; QAT for a few hundred steps recovers most of the float accuracy.
    Control: the float model trained for the same extra steps, then PTQ, does not."""
    net, X, y, X_test, y_test = trained
    rng = np.random.default_rng(1)
    float_acc = _accuracy(net, X_test, y_test)
    ptq_acc = _accuracy(_ptq(net, 3, X), X_test, y_test)
    longer = copy.deepcopy(net)
    _train(longer, X, y, 300, 1e-3, rng)
    control_acc = _accuracy(_ptq(longer, 3, X), X_test, y_test)
    qat = Q.fake_quant_model(copy.deepcopy(net), 3)
    _train(qat, X, y, 300, 1e-3, rng)
    qat_acc = _accuracy(qat, X_test, y_test)
    assert float_acc > 0.97
    assert qat_acc > max(ptq_acc, control_acc) + 0.05, (float_acc, ptq_acc, control_acc, qat_acc)


def test_bad_inputs():
    with pytest.raises(TypeError, match="nn.Sequential"):
        Q.fake_quant_model(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="bits"):
        Q.FakeQuantLinear(nn.Linear(2, 2), bits=9)
