"""Deep Gradient Compression (Lin et al. 2018) as a DDP comm hook.

Closed forms from the paper's update rules: at density 1 every coordinate of the
velocity is sent each step, so without momentum factor masking the sent vector is
the momentum buffer u_t = m u_{t-1} + g_t and DGC + plain SGD IS momentum SGD
(checked against torch.optim.SGD); with masking the buffer is zeroed every step,
so it is plain SGD, as is momentum 0 — plain DDP (checked against torch too).
"""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.compress import DGC
from minigrad.distributed import DistributedDataParallel
from minigrad.distributed.comm_hooks import dgc_hook

SIZES = (6, 16, 3)


def make_models(seed=0):
    rng = np.random.default_rng(seed)
    mine, theirs = [], []
    for i, o in zip(SIZES, SIZES[1:]):
        w, b = rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) * 0.1
        a, t = mg.nn.Linear(i, o, dtype=mg.float64), torch.nn.Linear(i, o, dtype=torch.float64)
        a.weight.data[...], a.bias.data[...] = w, b
        t.weight.data[...], t.bias.data[...] = torch.from_numpy(w), torch.from_numpy(b)
        mine += [a, mg.nn.Tanh()]
        theirs += [t, torch.nn.Tanh()]
    return mg.nn.Sequential(*mine[:-1]), torch.nn.Sequential(*theirs[:-1])


def data(step):
    rng = np.random.default_rng(50 + step)
    return rng.standard_normal((16, SIZES[0])), rng.standard_normal((16, SIZES[-1]))


def train_dgc_vs_torch(dgc, torch_momentum, steps=12, lr=0.1):
    """Largest parameter difference between DDP + dgc_hook + SGD (no momentum) and torch's SGD."""
    mine, theirs = make_models()
    ddp = DistributedDataParallel(mine)
    ddp.register_comm_hook(dgc, dgc_hook)
    opt = optim.SGD(mine.parameters(), lr=lr)                    # plain SGD: DGC owns the momentum
    ref = torch.optim.SGD(theirs.parameters(), lr=lr, momentum=torch_momentum)
    worst = 0.0
    for step in range(steps):
        X, y = data(step)
        F.mse_loss(ddp(mg.tensor(X)), mg.tensor(y)).backward()
        opt.step(); opt.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        ref.step(); ref.zero_grad()
        worst = max(worst, max(np.abs(p.data - q.detach().numpy()).max()
                               for p, q in zip(mine.parameters(), theirs.parameters())))
    return worst


def test_dgc_at_sparsity_0_without_masking_is_momentum_sgd():
    assert train_dgc_vs_torch(DGC(sparsity=0, momentum=0.9, momentum_masking=False), 0.9) < 1e-12


@pytest.mark.parametrize("masking", [True, False])
def test_dgc_at_density_1_without_momentum_is_plain_ddp(masking):
    assert train_dgc_vs_torch(DGC(sparsity=0, momentum=0.0, momentum_masking=masking), 0.0) < 1e-12


def test_dgc_at_density_1_with_masking_wipes_the_momentum_every_step():
    assert train_dgc_vs_torch(DGC(sparsity=0, momentum=0.9, momentum_masking=True), 0.0) < 1e-12


def test_the_equivalences_can_fail():
    # momentum correction on but compared with plain SGD: they must differ
    assert train_dgc_vs_torch(DGC(sparsity=0, momentum=0.9, momentum_masking=False), 0.0) > 1e-3


def test_dgc_step_by_the_formulas():
    rng = np.random.default_rng(1)
    dgc = DGC(sparsity=0.9, momentum=0.5, momentum_masking=True)
    u, v = np.zeros(100), np.zeros(100)
    for _ in range(5):
        g = rng.standard_normal(100)
        u = 0.5 * u + g
        v = v + u
        top = np.sort(np.argsort(-np.abs(v))[:10])
        sent = dgc.decompress(dgc.compress(g, key="w"))
        assert np.array_equal(np.flatnonzero(sent), top)
        np.testing.assert_array_equal(sent[top], v[top])
        v[top] = 0
        u[top] = 0                                         # momentum factor masking
        np.testing.assert_array_equal(dgc.state["w"]["v"], v)
        np.testing.assert_array_equal(dgc.state["w"]["u"], u)


def test_dgc_warmup_schedule_is_the_papers_exponential_one():
    dgc = DGC(sparsity=0.999, warmup_steps=2)
    n = 2**16
    kept = [np.count_nonzero(dgc.decompress(dgc.compress(np.arange(1.0, n + 1), key=0)))
            for _ in range(10)]
    expected_density = [0.25, 0.25, 0.0625, 0.0625, 0.015625, 0.015625, 0.00390625, 0.00390625,
                        0.001, 0.001]                      # sparsity 75%, 93.75%, 98.4%, 99.6%, 99.9%
    assert kept == [round(d * n) for d in expected_density]


def test_dgc_local_clipping_uses_the_threshold_scaled_by_sqrt_p():
    dgc = DGC(sparsity=0, momentum=0.0, clip_norm=2.0, world_size=4)
    g = np.full(16, 3.0)                                   # norm 12
    sent = dgc.decompress(dgc.compress(g)) * 4             # the payload carries g / p
    np.testing.assert_allclose(np.linalg.norm(sent), 2.0 / np.sqrt(4), rtol=1e-6)


@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_dgc_keeps_float32_on_the_wire_for_float32_gradients(clip_norm):
    dgc = DGC(sparsity=0.9, clip_norm=clip_norm, world_size=4)
    for _ in range(3):
        payload = dgc.compress(np.random.default_rng(3).standard_normal(1000).astype(np.float32))
        assert payload.nbytes == 8 + 12 + 8 * 100              # 4-byte index + 4-byte value
        assert dgc.decompress(payload).dtype == np.float32
    assert dgc.state[None]["v"].dtype == np.float32


def test_dgc_nan_gradient_passes_through_and_keeps_the_state():
    dgc = DGC(sparsity=0.5, momentum=0.9)
    rng = np.random.default_rng(2)
    dgc.compress(rng.standard_normal(20), key=0)
    before = {name: a.copy() for name, a in dgc.state[0].items() if name != "step"}
    bad = rng.standard_normal(20)
    bad[3] = np.nan
    out = dgc.decompress(dgc.compress(bad, key=0))
    assert np.isnan(out[3]) and dgc.skipped == 1           # the receiver sees the NaN step
    for name, value in before.items():
        np.testing.assert_array_equal(dgc.state[0][name], value)
    assert np.all(np.isfinite(dgc.decompress(dgc.compress(rng.standard_normal(20), key=0))))


def test_dgc_hook_and_options_reject_bad_input():
    with pytest.raises(TypeError, match="dgc_hook"):
        dgc_hook(object(), None)
    with pytest.raises(ValueError, match="sparsity"):
        DGC(sparsity=1.0)
    with pytest.raises(ValueError, match="momentum"):
        DGC(momentum=1.5)
    dgc = DGC()
    dgc.compress(np.ones(5), key=0)
    with pytest.raises(ValueError, match="key 0 had 5"):
        dgc.compress(np.ones(6), key=0)
