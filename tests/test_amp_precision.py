"""bf16 rounding vs PyTorch, and the float16/bfloat16 compute copy over float32 master weights."""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import amp, optim


def _bf16_torch(x):
    return torch.from_numpy(x).to(torch.bfloat16).float().numpy()


def test_bfloat16_rounding_bitwise_equal_torch_on_a_million_floats():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 10**6, dtype=np.uint64).astype(np.uint32)  # every exponent, NaNs, infs
    bits[:50_000] = (bits[:50_000] & 0xFFFF0000) | 0x8000                     # exact ties, both parities
    bits[50_000:100_000] &= 0x807FFFFF                                        # subnormals and zeros
    bits[100_000:100_004] = [0x7F800000, 0xFF800000, 0x7F7FFFFF, 0xFFC00001]  # +-inf, max float, a NaN
    bits[100_004:150_000] = (bits[100_004:150_000] & 0xFFFF0000) | 0x7FFF     # just below a tie
    x = bits.view(np.float32)
    assert np.isnan(x).sum() > 1000 and (x == np.inf).any() and (np.abs(x) < 1.2e-38).sum() > 40_000
    ours = amp.round_to_bfloat16(x)
    np.testing.assert_array_equal(ours.view(np.uint32), _bf16_torch(x).view(np.uint32))
    assert ours.dtype == np.float32 and amp.bfloat16.is_bfloat16_exact(ours).all()


def test_bfloat16_rounding_rejects_other_dtypes():
    with pytest.raises(TypeError, match="round_to_bfloat16.*float64"):
        amp.round_to_bfloat16(np.ones(3))


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def _torch_twin(net):
    twin = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                               torch.nn.Tanh(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p_t, p in zip(twin.parameters(), net.parameters()):
            p_t.copy_(torch.from_numpy(p.data))
    return twin


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_compute_copy_keeps_float32_masters_and_float32_grads(dtype):
    net = _mlp()
    masters = [(p, p.data.copy()) for p in net.parameters()]
    copy = amp.ComputeCopy(net, dtype)
    assert list(copy.parameters()) == [p for p, _ in masters]
    X = mg.tensor(np.random.randn(8, 6).astype(np.float32))
    out = copy(X)
    assert out.dtype == np.float32
    F.cross_entropy(out, np.arange(8) % 3).backward()
    for (p, before), (name, q) in zip(masters, net.named_parameters()):
        assert q is p and p.dtype == np.float32 and p.grad.dtype == np.float32, name
        np.testing.assert_array_equal(p.data, before)         # the forward did not touch the masters
    assert isinstance(net[0].weight, nn.Parameter) and "forward" not in net[0].__dict__


def test_float16_compute_copy_equals_numpy_float16_by_hand():
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    X = np.random.randn(8, 6).astype(np.float32)
    W1, b1, W2, b2 = (p.data.astype(np.float16) for p in net.parameters())
    h = np.maximum(X.astype(np.float16) @ W1.T + b1, 0)
    expected = (h @ W2.T + b2).astype(np.float32)
    gy = np.random.randn(8, 3).astype(np.float32)
    out = amp.ComputeCopy(net, "float16")(mg.tensor(X))
    np.testing.assert_array_equal(out.data, expected)
    out.backward(mg.tensor(gy))
    g16 = gy.astype(np.float16)
    np.testing.assert_array_equal(net[2].weight.grad.data, (g16.T @ h).astype(np.float32))
    gh = (g16 @ W2) * (h > 0)
    np.testing.assert_array_equal(net[0].weight.grad.data, (gh.T @ X.astype(np.float16)).astype(np.float32))


def test_bfloat16_compute_copy_matches_torch_bfloat16_model():
    """PyTorch runs the same MLP in real bf16; we emulate it. Outputs agree to one bf16 ulp
    (both round the layer's float32 sum to bf16, but sum in different orders)."""
    net = _mlp()
    twin = _torch_twin(net).to(torch.bfloat16)
    X = np.random.randn(64, 6).astype(np.float32)
    out = amp.ComputeCopy(net, "bfloat16")(mg.tensor(X)).data
    ref = twin(torch.from_numpy(X).to(torch.bfloat16)).float().detach().numpy()
    assert amp.bfloat16.is_bfloat16_exact(out).all()
    np.testing.assert_allclose(out, ref, rtol=2**-7, atol=1e-6)
    assert (out == ref).mean() > 0.9
    fp32 = net(mg.tensor(X)).data
    assert np.abs(out - fp32).max() > 1e-4   # and it is not secretly running in float32


def test_float16_with_grad_scaler_trains_to_the_float32_loss():
    """Micikevicius et al.'s recipe on a small MLP: the fp16 run ends within 0.01 of the fp32 loss
    (the loss starts near 1.1 and the fp32 run ends near 0.08)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 6)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    losses = {}
    for mode in ("float32", "float16"):
        mg.manual_seed(0)
        net = _mlp()
        model = net if mode == "float32" else amp.ComputeCopy(net, "float16")
        opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        scaler = amp.GradScaler(enabled=mode == "float16", growth_interval=20)
        for step in range(150):
            loss = F.cross_entropy(model(mg.tensor(X)), y)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        losses[mode] = F.cross_entropy(net(mg.tensor(X)), y).item()
    assert losses["float32"] < 0.45                        # it did learn
    assert abs(losses["float16"] - losses["float32"]) < 0.01


def test_compute_copy_rejects_bad_dtypes():
    for bad in ("int8", "fp8", np.float64):
        with pytest.raises(ValueError, match="ComputeCopy: dtype"):
            amp.ComputeCopy(_mlp(), bad)
    assert amp.ComputeCopy(_mlp(), np.float16).dtype == "float16"
    with pytest.raises(TypeError, match="master weights must be float32"):
        amp.ComputeCopy(nn.Linear(2, 2, dtype=np.float16), "float16")


def test_tied_weight_gets_both_gradients_and_is_restored():
    first, second = nn.Linear(4, 4), nn.Linear(4, 4)
    second.weight = first.weight                         # two modules, one Parameter
    tied = first.weight
    net = nn.Sequential(first, nn.Tanh(), second)
    X = mg.tensor(np.random.randn(3, 4).astype(np.float32))
    net(X).sum().backward()
    expected = tied.grad.data.copy()
    net.zero_grad()
    amp.ComputeCopy(net, "float16")(X).sum().backward()
    assert first.weight is tied and second.weight is tied
    np.testing.assert_allclose(tied.grad.data, expected, rtol=2e-2, atol=2e-3)
