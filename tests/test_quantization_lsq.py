"""LSQ's learnable fake-quantize op and the FakeQuantize modules against PyTorch."""
import math

import numpy as np
import pytest
import torch
from torch.ao import quantization as tq

import minigrad as mg
from minigrad import quantization as Q


def _torch_learnable(x, s, z, gy, qmin, qmax, gf):
    xt, st, zt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, s, z))
    y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, gf)
    y.backward(torch.from_numpy(gy))
    return y.detach().numpy(), xt.grad.numpy(), st.grad.numpy(), zt.grad.numpy()


@pytest.mark.parametrize("trial", range(16))
def test_learnable_op_matches_torch(trial):
    """Output and dx bit for bit; d scale and d zero_point (sums of 2000 float32 terms, which PyTorch
    adds in its own order) to 1e-6 of the terms' total magnitude."""
    rng = np.random.default_rng(trial)
    qmin, qmax = [(0, 255), (-128, 127), (0, 15), (-8, 7)][trial % 4]
    x = (rng.standard_normal(2000) * rng.choice([0.1, 1.0, 5.0])).astype(np.float32)
    s = np.float32([rng.uniform(0.005, 0.3)])
    z = np.float32([rng.uniform(qmin, qmax)]) if trial % 3 else np.float32([qmin + 2.5])  # a .5 zero point
    gy = rng.standard_normal(2000).astype(np.float32)
    gf = 1.0 / math.sqrt(x.size * qmax) if trial % 2 else 1.0     # LSQ's g = 1/sqrt(N Q_P), or none
    y_t, dx_t, ds_t, dz_t = _torch_learnable(x, s, z, gy, qmin, qmax, gf)
    xm, sm, zm = (mg.tensor(a.copy(), requires_grad=True) for a in (x, s, z))
    y = Q.fake_quantize_learnable_per_tensor_affine(xm, sm, zm, qmin, qmax, gf)
    y.backward(mg.tensor(gy))
    np.testing.assert_array_equal(y.data, y_t)
    np.testing.assert_array_equal(xm.grad.data, dx_t)
    magnitude = np.abs(gy).sum() * max(abs(qmin - z[0]), abs(qmax - z[0]), 1.0) * gf
    assert abs(sm.grad.item() - ds_t[0]) <= 1e-6 * magnitude, (sm.grad.item(), ds_t[0])
    assert abs(zm.grad.item() - dz_t[0]) <= 1e-6 * np.abs(gy).sum() * s[0] * gf
    assert sm.grad.dtype == np.float32 and sm.grad.shape == (1,)


def test_learnable_scale_gradient_is_lsq_closed_form():
    """Esser et al. eq. 3 by hand for three values: inside (round(x/S) - x/S), below (-Q_N), above (Q_P)."""
    s = mg.tensor(np.float32([0.5]), requires_grad=True)
    z = mg.tensor(np.float32([0.0]))
    x = mg.tensor(np.float32([0.3, -10.0, 10.0]))
    Q.fake_quantize_learnable_per_tensor_affine(x, s, z, -4, 3).sum().backward()
    inside = round(0.3 / 0.5) - 0.3 / 0.5              # 1 - 0.6
    assert s.grad.item() == pytest.approx(inside + (-4) + 3, abs=1e-6)


def test_fake_quantize_module_matches_torch_through_a_schedule():
    """Observe + quantize, then frozen ranges, then quantization off: outputs and grads bit for bit."""
    ours, theirs = Q.FakeQuantize(), tq.FakeQuantize()
    rng = np.random.default_rng(0)
    for step in range(12):
        if step == 6:
            ours.disable_observer()
            theirs.disable_observer()
        if step == 10:
            ours.disable_fake_quant()
            theirs.disable_fake_quant()
        x = (rng.standard_normal(64) * (1 + step) + step).astype(np.float32)
        xt = torch.from_numpy(x.copy()).requires_grad_()
        xm = mg.tensor(x.copy(), requires_grad=True)
        yt, y = theirs(xt), ours(xm)
        gy = rng.standard_normal(64).astype(np.float32)
        yt.backward(torch.from_numpy(gy))
        y.backward(mg.tensor(gy))
        np.testing.assert_array_equal(y.data, yt.detach().numpy(), err_msg=f"step {step}")
        np.testing.assert_array_equal(xm.grad.data, xt.grad.numpy())
        np.testing.assert_array_equal(ours.scale, theirs.scale.numpy())
        np.testing.assert_array_equal(ours.zero_point, theirs.zero_point.numpy())


def test_fake_quantize_module_4bit_symmetric_as_torch():
    kwargs = dict(quant_min=-8, quant_max=7, dtype="qint8", qscheme="per_tensor_symmetric")
    ours = Q.FakeQuantize(observer=Q.MinMaxObserver, **kwargs)
    theirs = tq.FakeQuantize(observer=tq.MinMaxObserver, quant_min=-8, quant_max=7, dtype=torch.qint8,
                             qscheme=torch.per_tensor_symmetric)
    x = np.random.default_rng(1).standard_normal(200).astype(np.float32)
    np.testing.assert_array_equal(ours(mg.tensor(x)).data, theirs(torch.from_numpy(x)).numpy())


def test_learnable_fake_quantize_module_uses_lsq_init_and_grad_scale():
    x = np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32)
    fq = Q.LearnableFakeQuantize(-8, 7)
    xm = mg.tensor(x, requires_grad=True)
    fq(xm).sum().backward()
    s0 = np.float32(2 * np.abs(x).mean() / math.sqrt(7))
    assert fq.scale.data[0] == pytest.approx(s0, rel=1e-6)
    _, _, ds_t, _ = _torch_learnable(x, np.float32([fq.scale.data[0]]), np.float32([0]), np.ones_like(x), -8, 7,
                                     1 / math.sqrt(x.size * 7))
    assert fq.scale.grad.item() == pytest.approx(ds_t[0], rel=1e-5, abs=1e-7)
    assert fq.zero_point.grad is None                      # zero point frozen by default


def test_learnable_fake_quantize_grad_equals_torch_learnable_module():
    """Against torch's own LSQ module (_LearnableFakeQuantize, use_grad_scaling=True) at the same scale."""
    from torch.ao.quantization._learnable_fake_quantize import _LearnableFakeQuantize

    x = np.random.default_rng(4).standard_normal((16, 8)).astype(np.float32)
    ours = Q.LearnableFakeQuantize(-8, 7)
    (ours(mg.tensor(x)) ** 2).sum().backward()
    theirs = _LearnableFakeQuantize(observer=tq.MovingAverageMinMaxObserver, quant_min=-8, quant_max=7,
                                    scale=1.0, zero_point=0.0, use_grad_scaling=True,
                                    dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    theirs.toggle_observer_update(False)
    theirs.toggle_qparam_learning(True)
    theirs.toggle_fake_quant(True)
    theirs.zero_point.requires_grad_(False)
    with torch.no_grad():
        theirs.scale.copy_(torch.from_numpy(ours.scale.data))
    (theirs(torch.from_numpy(x)) ** 2).sum().backward()
    assert ours.scale.grad.item() == pytest.approx(theirs.scale.grad.item(), rel=1e-6, abs=1e-8)
