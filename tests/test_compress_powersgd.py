"""PowerSGD as a DDP comm hook: PyTorch's powerSGD_hook, error feedback, full rank, Eckart-Young.

The reference is PyTorch's own hook (`torch.distributed.algorithms.ddp_comm_hooks.
powerSGD_hook`) run by torch's DDP on a one-process gloo group, on the same float64
model and data. PyTorch draws Q from its own generator; minigrad draws from NumPy,
seeded the same way, through the one seam `PowerSGDState.random_q`. The test
replaces that seam by PyTorch's recipe (`torch.manual_seed(rng.randint(1e9))`, one
`randn` per matrix in the hook's shape-group order), so both draw the same Q's.
"""
import numpy as np
import pytest
import torch
import torch.distributed as tdist
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as torch_psgd

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.compress import PowerSGDState
from minigrad.compress.powersgd import orthogonalize
from minigrad.distributed import DistributedDataParallel
from minigrad.distributed.comm_hooks import powerSGD_hook

SIZES = (12, 20, 16, 3)           # Linear 12->20, tanh, Linear 20->16, tanh, Linear 16->3


@pytest.fixture(scope="module")
def gloo_group(tmp_path_factory):
    store = tmp_path_factory.mktemp("gloo") / "store"
    tdist.init_process_group("gloo", rank=0, world_size=1, init_method=f"file://{store}")
    yield
    tdist.destroy_process_group()


def make_models(seed=0):
    rng = np.random.default_rng(seed)
    layers = [(rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) * 0.1)
              for i, o in zip(SIZES, SIZES[1:])]
    mg_layers, torch_layers = [], []
    for w, b in layers:
        mine, theirs = mg.nn.Linear(*w.shape[::-1], dtype=mg.float64), torch.nn.Linear(
            *w.shape[::-1], dtype=torch.float64)
        mine.weight.data[...], mine.bias.data[...] = w, b
        theirs.weight.data[...], theirs.bias.data[...] = torch.from_numpy(w), torch.from_numpy(b)
        mg_layers += [mine, mg.nn.Tanh()]
        torch_layers += [theirs, torch.nn.Tanh()]
    return mg.nn.Sequential(*mg_layers[:-1]), torch.nn.Sequential(*torch_layers[:-1])


def draw_q_as_pytorch(state):
    """PyTorch's way of drawing Q (its hook: a seed from the state's RandomState, then one
    torch.randn per matrix) in place of minigrad's NumPy draw: the same initial Q's for both."""
    def random_q(shapes, dtype):
        seed = state.rng.randint(1_000_000_000)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return [torch.randn(1, *shape, dtype=torch.float64).numpy().reshape(shape) for shape in shapes]
    return random_q


def data(step):
    rng = np.random.default_rng(100 + step)
    return rng.standard_normal((32, SIZES[0])), rng.standard_normal((32, SIZES[-1]))


@pytest.mark.parametrize("rank, warm_start, use_error_feedback",
                         [(1, True, True), (2, True, True), (4, True, True), (2, False, True),
                          (2, True, False), (3, False, False)])
def test_powersgd_hook_equals_pytorchs_powersgd_hook(gloo_group, rank, warm_start, use_error_feedback):
    mine, theirs = make_models()
    ddp_mine = DistributedDataParallel(mine)
    ddp_theirs = torch.nn.parallel.DistributedDataParallel(theirs)
    options = dict(matrix_approximation_rank=rank, start_powerSGD_iter=2, use_error_feedback=use_error_feedback,
                   warm_start=warm_start, random_seed=7)
    state_mine, state_theirs = PowerSGDState(None, **options), torch_psgd.PowerSGDState(None, **options)
    state_mine.random_q = draw_q_as_pytorch(state_mine)
    order = []

    def recording_hook(state, bucket):
        order.append([tuple(g.shape) for g in bucket.gradients()])
        return torch_psgd.powerSGD_hook(state, bucket)

    ddp_mine.register_comm_hook(state_mine, powerSGD_hook)
    ddp_theirs.register_comm_hook(state_theirs, recording_hook)
    opt_mine = optim.SGD(mine.parameters(), lr=0.1)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for step in range(8):
        X, y = data(step)
        F.mse_loss(ddp_mine(mg.tensor(X)), mg.tensor(y)).backward()
        torch.nn.functional.mse_loss(ddp_theirs(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        if step >= 1:        # torch's DDP rebuilds its bucket in gradient-ready order after step 0
            assert [[tuple(p.shape) for p in b.params] for b in ddp_mine.buckets] == order[-1:]
        for p, q in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=0, atol=1e-12,
                                       err_msg=f"step {step}")
        opt_mine.step(); opt_theirs.step()
        opt_mine.zero_grad(); opt_theirs.zero_grad()
    assert state_mine.iter == state_theirs.iter == 8
    assert state_mine.compression_stats() == pytest.approx(state_theirs.compression_stats())
    if use_error_feedback:
        np.testing.assert_allclose(state_mine.error_dict[0], state_theirs.error_dict[0].numpy(),
                                   rtol=0, atol=1e-12)
        assert np.linalg.norm(state_mine.error_dict[0]) > 1e-3   # it really compressed


def train_recording(state, steps=10, seed=0):
    """DDP (one rank) with powerSGD_hook; returns the raw local gradients and what the hook gave."""
    model, _ = make_models(seed)
    ddp = DistributedDataParallel(model)
    raw, out = [], []

    def recording_hook(state, bucket):
        raw.append(bucket.buffer().data.copy())
        result = powerSGD_hook(state, bucket).wait()
        out.append(np.array(result.data, copy=True))
        return result

    ddp.register_comm_hook(state, recording_hook)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for step in range(steps):
        X, y = data(step)
        F.mse_loss(ddp(mg.tensor(X)), mg.tensor(y)).backward()
        opt.step()
        opt.zero_grad()
    return np.array(raw), np.array(out)


@pytest.mark.parametrize("warm_start", [True, False])
def test_powersgd_error_feedback_telescopes(warm_start):
    state = PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=3, warm_start=warm_start)
    raw, out = train_recording(state)
    # sum of what was applied + the final local error = sum of the raw gradients (nothing lost)
    np.testing.assert_allclose(out.sum(0) + state.error_dict[0], raw.sum(0), rtol=0, atol=1e-12)
    assert np.abs(out[3:] - raw[3:]).max() > 1e-3           # the compressed steps differ from raw
    np.testing.assert_array_equal(out[:3], raw[:3])          # before start_powerSGD_iter: all-reduce


def test_powersgd_at_full_rank_is_lossless():
    state = PowerSGDState(None, matrix_approximation_rank=20, start_powerSGD_iter=2,
                          min_compression_rate=0.1)           # compress even at full rank
    raw, out = train_recording(state, steps=6)
    np.testing.assert_allclose(out, raw, rtol=0, atol=1e-12)
    assert state.compression_stats()[0] < 1                   # (n + m) r > n m: it did compress


def test_powersgd_without_error_feedback_does_not_telescope():
    state = PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=2,
                          use_error_feedback=False)
    raw, out = train_recording(state, steps=6)
    assert state.error_dict == {}
    assert np.abs(out.sum(0) - raw.sum(0)).max() > 1e-3


@pytest.mark.parametrize("epsilon", [0, 1e-8])
def test_gram_schmidt_equals_pytorchs(epsilon):
    a = np.random.default_rng(4).standard_normal((30, 3))
    expected = torch.from_numpy(a.copy())[None]
    torch_psgd._orthogonalize_gram_schmidt(expected, epsilon)
    np.testing.assert_allclose(orthogonalize(a.copy(), epsilon), expected[0].numpy(), rtol=0, atol=1e-13)
    q = orthogonalize(a.copy())
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-13)


def test_warm_started_power_iteration_reaches_the_svd_optimum():
    # One rank, a fixed matrix, no error feedback: P P^T M is never better than the rank-r SVD
    # truncation (Eckart-Young) and converges to it as the warm-started power iteration does.
    rng = np.random.default_rng(5)
    u, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    v, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    s = 2.0 ** -np.arange(30)
    M = (u[:, :30] * s) @ v.T                                         # (40, 30), known spectrum
    r = 2
    optimum = np.sqrt(np.sum(s[r:] ** 2))                             # Eckart-Young
    state = PowerSGDState(None, matrix_approximation_rank=r, start_powerSGD_iter=2,
                          use_error_feedback=False)
    model = mg.nn.Linear(30, 40, bias=False, dtype=mg.float64)
    ddp = DistributedDataParallel(model)
    errors = []

    def hook(state, bucket):
        bucket.set_buffer(mg.tensor(M.reshape(-1)))                   # the same gradient each step
        approx = powerSGD_hook(state, bucket).wait()
        errors.append(np.linalg.norm(approx.data.reshape(40, 30) - M))
        return approx

    ddp.register_comm_hook(state, hook)
    for _ in range(12):
        ddp(mg.ones(1, 30, dtype=mg.float64)).sum().backward()
    compressed = np.array(errors[2:])
    assert np.all(compressed >= optimum * (1 - 1e-12))
    assert compressed[0] > 1.01 * optimum                             # a random Q is not optimal
    np.testing.assert_allclose(compressed[-1], optimum, rtol=1e-6)


def test_powersgd_state_rejects_what_pytorch_rejects():
    with pytest.raises(ValueError, match="start_powerSGD_iter"):
        PowerSGDState(None, start_powerSGD_iter=1)
    with pytest.raises(ValueError, match="process group"):
        PowerSGDState(object())
    with pytest.raises(TypeError, match="PowerSGDState"):
        powerSGD_hook(object(), None)


@pytest.mark.cuda
def test_powersgd_hook_on_the_gpu_equals_the_cpu():
    grads = {}
    for device in ("cpu", "cuda"):
        model, _ = make_models()
        model.to(device)
        ddp = DistributedDataParallel(model)
        ddp.register_comm_hook(PowerSGDState(None, matrix_approximation_rank=2, start_powerSGD_iter=2),
                               powerSGD_hook)
        for step in range(4):
            model.zero_grad()
            X, y = data(step)
            F.mse_loss(ddp(mg.tensor(X, device=device)), mg.tensor(y, device=device)).backward()
        grads[device] = [p.grad.numpy() for p in model.parameters()]
        assert all(p.grad.device == device for p in model.parameters())
    for a, b in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


def test_a_bucket_of_vectors_only_is_averaged_uncompressed():
    model = mg.nn.Linear(1, 6, dtype=mg.float64)          # weight (6, 1): not worth compressing
    state = PowerSGDState(None, start_powerSGD_iter=2)
    raw, out = [], []
    ddp = DistributedDataParallel(model)

    def hook(state, bucket):
        raw.append(bucket.buffer().data.copy())
        result = powerSGD_hook(state, bucket).wait()
        out.append(np.array(result.data, copy=True))
        return result

    ddp.register_comm_hook(state, hook)
    for step in range(4):
        ddp(mg.ones(2, 1, dtype=mg.float64) * (step + 1)).sum().backward()
    np.testing.assert_array_equal(np.array(out), np.array(raw))
    assert state.compression_stats()[0] == 1.0
