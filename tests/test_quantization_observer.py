"""MinMaxObserver and MovingAverageMinMaxObserver against torch.ao.quantization's, value for value."""
import warnings

import numpy as np
import pytest
import torch
from torch.ao import quantization as tq

import minigrad as mg
from minigrad import quantization as Q

warnings.filterwarnings("ignore", message=".*reduce_range will be deprecated.*")

CONFIGS = [
    dict(),
    dict(dtype="qint8"),
    dict(qscheme="per_tensor_symmetric"),
    dict(dtype="qint8", qscheme="per_tensor_symmetric"),
    dict(reduce_range=True),
    dict(dtype="qint8", reduce_range=True, qscheme="per_tensor_symmetric"),
    dict(quant_min=0, quant_max=15),
    dict(quant_min=-8, quant_max=7, dtype="qint8", qscheme="per_tensor_symmetric"),
    dict(quant_min=0, quant_max=15, qscheme="per_tensor_symmetric"),
    dict(quant_min=0, quant_max=255, reduce_range=True),
    dict(eps=1e-2),
]


def _torch_kwargs(cfg):
    kw = dict(cfg)
    kw["dtype"] = {"quint8": torch.quint8, "qint8": torch.qint8}[kw.get("dtype", "quint8")]
    kw["qscheme"] = {"per_tensor_affine": torch.per_tensor_affine,
                     "per_tensor_symmetric": torch.per_tensor_symmetric}[kw.get("qscheme", "per_tensor_affine")]
    return kw


def _batches(rng, n):
    """Shifted, scaled, one-signed, constant and tiny batches."""
    out = []
    for i in range(n):
        x = rng.standard_normal(50).astype(np.float32) * np.float32(rng.choice([1e-6, 0.1, 3, 100]))
        x += np.float32(rng.choice([0, 5, -5, 0.3]))
        if i % 7 == 3:
            x[:] = np.float32(rng.standard_normal())          # constant batch
        out.append(x)
    return out


def _assert_same_qparams(ours, theirs):
    (s, z), (s_t, z_t) = ours.calculate_qparams(), theirs.calculate_qparams()
    np.testing.assert_array_equal(s.data.view(np.uint32), s_t.numpy().view(np.uint32))
    np.testing.assert_array_equal(z.data, z_t.numpy())
    assert z.dtype == z_t.numpy().dtype and s.dtype == np.float32


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("kind", ["minmax", "moving"])
def test_observer_qparams_equal_torch_after_every_batch(cfg, kind):
    rng = np.random.default_rng(len(str(cfg)) + (kind == "moving"))
    if kind == "minmax":
        ours, theirs = Q.MinMaxObserver(**cfg), tq.MinMaxObserver(**_torch_kwargs(cfg))
    else:
        ours = Q.MovingAverageMinMaxObserver(averaging_constant=0.1, **cfg)
        theirs = tq.MovingAverageMinMaxObserver(averaging_constant=0.1, **_torch_kwargs(cfg))
    for x in _batches(rng, 15):
        ours(mg.tensor(x))
        theirs(torch.from_numpy(x))
        assert ours.min_val == theirs.min_val.item() and ours.max_val == theirs.max_val.item()
        _assert_same_qparams(ours, theirs)


def test_observer_returns_its_input_and_defaults_before_any_data():
    obs = Q.MinMaxObserver()
    x = mg.tensor(np.float32([1.0, -2.0]))
    assert obs(x) is x
    fresh = Q.MinMaxObserver()
    with pytest.warns(UserWarning, match="must run observer"):
        s, z = fresh.calculate_qparams()
    assert s.tolist() == [1.0] and z.tolist() == [0]


def test_observer_rejects_bad_settings():
    with pytest.raises(ValueError, match="qscheme"):
        Q.MinMaxObserver(qscheme="per_channel_affine")
    with pytest.raises(ValueError, match="dtype"):
        Q.MinMaxObserver(dtype="float16")
    with pytest.raises(ValueError, match="must include 0"):
        Q.MinMaxObserver(quant_min=1, quant_max=15)
    with pytest.raises(ValueError, match="reduce range for symmetric"):
        Q.MinMaxObserver(qscheme="per_tensor_symmetric", reduce_range=True)


@pytest.mark.parametrize("cfg,batch", [
    (dict(), [-0.75, 126.75]),                       # S = 0.5 exactly, x_min / S = -1.5: Z rounds half to even
    (dict(quant_min=0, quant_max=15), [-0.75, 6.75]),
    (dict(dtype="qint8"), [-2.5, 125.0]),            # -2.5 / 0.5 = -5.0, and Z = -128 + 5
])
def test_zero_point_rounds_half_to_even_as_torch(cfg, batch):
    ours, theirs = Q.MinMaxObserver(**cfg), tq.MinMaxObserver(**_torch_kwargs(cfg))
    ours(mg.tensor(np.float32(batch)))
    theirs(torch.tensor(batch))
    _assert_same_qparams(ours, theirs)
