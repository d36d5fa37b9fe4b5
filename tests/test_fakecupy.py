"""The CuPy stand-in (tests/fakecupy) catches host/device leaks, and whole training loops run on "cuda".

The first group checks the stand-in itself (installed explicitly, GPU or not). The
second runs nn, optim, compress and serialization code on device "cuda" (a real GPU
when CuPy sees one, else the stand-in) and compares with the same code on the CPU,
which the rest of the suite checks against PyTorch. The op suite runs on "cuda"
through the ``device`` fixture (test_ops_vs_torch.py), word2vec through its own
cuda tests.
"""
import numpy as np
import pytest

import fakecupy
import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import backend, optim
from minigrad.compress import FP16, QSGD, TopK
from minigrad.functions.indexing import ScatterAdd
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
from minigrad.optim.lr_scheduler import CosineAnnealingLR, LinearWarmup
from minigrad.training import accumulate


@pytest.fixture
def stand_in(monkeypatch):
    """The stand-in as ``cupy``, for this test, even on a machine with a GPU."""
    fakecupy.install(monkeypatch)
    return fakecupy


def test_backend_takes_the_stand_in_for_cupy(stand_in):
    t = mg.tensor(np.arange(3.0), device="cuda")
    assert t.device == "cuda" and type(t.data) is stand_in.ndarray
    assert backend.get_array_module(t) is stand_in
    assert np.array_equal(t.numpy(), [0, 1, 2]) and type(t.numpy()) is np.ndarray


LEAKS = {    # each line is a host/device mix-up that CPU tests cannot see
    "np.asarray": lambda x, host: np.asarray(x),
    "np.add.at": lambda x, host: np.add.at(x, [0, 0], 1.0),
    "np.where": lambda x, host: np.where(x > 0, x, 0.0),
    "np.concatenate": lambda x, host: np.concatenate([x, x]),
    "device * host": lambda x, host: x * host,
    "host * device": lambda x, host: host * x,
    "device + 0-d host": lambda x, host: x + np.array(2.0),
    "host into device": lambda x, host: x.__setitem__(slice(None), host),
    "device into host": lambda x, host: host.__setitem__(slice(None), x),
    "cupy function on host": lambda x, host: backend.get_array_module(x).exp(host),
}


@pytest.mark.parametrize("name", LEAKS)
def test_stand_in_refuses_host_device_mixups(stand_in, name):
    x, host = stand_in.arange(4.0), np.ones(4)
    with pytest.raises(TypeError):
        LEAKS[name](x, host)


def test_stand_in_allows_what_cupy_allows_and_keeps_device_memory_apart(stand_in):
    host = np.arange(4.0)
    x = stand_in.asarray(host)
    host[0] = 99.0                      # the device copy must not see this
    assert x.get().tolist() == [0, 1, 2, 3] and stand_in.asnumpy(x).tolist() == [0, 1, 2, 3]
    total = x.sum()
    assert type(total) is stand_in.ndarray and total.shape == () and float(total) == 6.0
    assert type(np.exp(x)) is stand_in.ndarray          # CuPy dispatches NumPy's ufuncs
    assert x[np.array([3, 0])].get().tolist() == [3, 0]   # host index arrays are copied over
    assert np.isnan(stand_in.empty(3).get()).all()       # never a lucky zero
    assert not hasattr(x.flags, "writeable")             # as on CuPy


def test_stand_in_catches_the_scatter_add_leak_planted_back(stand_in, monkeypatch):
    """ScatterAdd once called np.add.at directly: right on the CPU, a leak on the GPU."""
    def leaky_forward(self, gy):
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        np.add.at(gx, self.index, gy)
        return gx

    monkeypatch.setattr(ScatterAdd, "forward", leaky_forward)
    rows = np.array([0, 2, 0])
    cpu = mg.ones(4, 3, requires_grad=True)
    cpu[rows].sum().backward()
    assert cpu.grad.numpy()[:, 0].tolist() == [2, 0, 1, 0]     # the CPU suite is satisfied
    cuda = mg.ones(4, 3, device="cuda", requires_grad=True)
    with pytest.raises(TypeError, match="numpy.add.at applied to a device array"):
        cuda[rows].sum().backward()


# --- whole loops on "cuda" against the same loops on the CPU

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 6, dtype=np.float64)
        self.norm = nn.LayerNorm(6, dtype=np.float64)
        self.rnn = nn.RNN(6, 8, batch_first=True, dtype=np.float64)
        self.head = nn.Sequential(nn.Linear(8, 16, dtype=np.float64), nn.GELU(), nn.Dropout(0.2),
                                  nn.Linear(16, 5, dtype=np.float64))

    def forward(self, tokens):
        h, _ = self.rnn(self.norm(self.embed(tokens)))   # (B, T, 8)
        return self.head(h)                              # (B, T, 5)


def batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        tokens, targets = rng.integers(0, 11, (4, 7)), rng.integers(0, 5, (4, 7))
        targets[0, :3] = -100                            # ignored positions
        yield tokens, targets


def train(device, make_optimizer, clip):
    mg.manual_seed(1)
    net = Net().to(device)
    opt = make_optimizer(net.parameters())
    schedule = CosineAnnealingLR(opt, T_max=4)
    losses = []
    for tokens, targets in batches(4):
        logits = net(mg.tensor(tokens, device=device))
        loss = F.cross_entropy(logits.reshape(-1, 5), mg.tensor(targets.reshape(-1), device=device))
        opt.zero_grad()
        loss.backward()
        clip(net.parameters())
        opt.step()
        schedule.step()
        losses.append(loss.item())
    return losses, {k: v.numpy() for k, v in net.state_dict().items()}, opt


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
}
CLIPS = {"norm": lambda ps: clip_grad_norm_(ps, 0.5), "value": lambda ps: clip_grad_value_(ps, 0.01)}


def assert_same_run(cpu, cuda):
    np.testing.assert_allclose(cuda[0], cpu[0], rtol=1e-10)
    assert cuda[1].keys() == cpu[1].keys()
    for key in cpu[1]:
        np.testing.assert_allclose(cuda[1][key], cpu[1][key], rtol=1e-10, atol=1e-13, err_msg=key)


@pytest.mark.cuda
@pytest.mark.parametrize("name,clip", [("sgd", "norm"), ("adam", "value"), ("adamw", "norm")])
def test_training_loop_on_cuda_matches_cpu(name, clip):
    """Embedding, LayerNorm, RNN, Linear, GELU, Dropout, cross_entropy, clipping, optimizer, scheduler."""
    cpu = train("cpu", OPTIMIZERS[name], CLIPS[clip])
    cuda = train("cuda", OPTIMIZERS[name], CLIPS[clip])
    assert_same_run(cpu, cuda)
    assert all(type(p.data) is not np.ndarray for p in cuda[2].param_groups[0]["params"])


@pytest.mark.cuda
def test_optimizer_and_model_state_round_trip_on_cuda(tmp_path):
    _, _, opt = train("cuda", OPTIMIZERS["adam"], CLIPS["norm"])
    params = opt.param_groups[0]["params"]
    mg.save({"params": [p.data for p in params], "opt": opt.state_dict()}, tmp_path / "ckpt.npz")
    loaded = mg.load(tmp_path / "ckpt.npz")
    fresh = [mg.tensor(np.zeros(p.shape), device="cuda", requires_grad=True) for p in params]
    again = optim.Adam(fresh, lr=0.01, amsgrad=True)
    again.load_state_dict(loaded["opt"])
    for p, q, saved in zip(params, fresh, loaded["params"]):
        q.data[...] = saved.to("cuda").data            # minigrad.load gives Tensors on the CPU
        p.grad, q.grad = (mg.ones(*p.shape, dtype=p.dtype, device="cuda") for _ in range(2))
    opt.step()
    again.step()
    for p, q in zip(params, fresh):
        assert q.device == "cuda"
        np.testing.assert_array_equal(q.numpy(), p.numpy())


@pytest.mark.cuda
def test_accumulate_and_warmup_on_cuda_match_cpu():
    results = []
    for device in ("cpu", "cuda"):
        mg.manual_seed(2)
        net = nn.Linear(3, 2, dtype=np.float64).to(device)
        opt = optim.SGD(net.parameters(), lr=0.1)
        warmup = LinearWarmup(opt, warmup_steps=3)
        X = np.random.default_rng(3).standard_normal((6, 3))
        micro = [mg.tensor(X[i:i + 2], device=device) for i in range(0, 6, 2)]
        loss = accumulate(micro, lambda mb: (net(mb) ** 2).sum())
        opt.step()
        warmup.step()
        results.append((loss, net.weight.numpy(), net.bias.numpy()))
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-12)


@pytest.mark.cuda
def test_newton_on_cuda_matches_cpu():
    A = np.random.default_rng(4).standard_normal((8, 3))
    b = A @ np.array([1.0, -2.0, 0.5]) + 0.1
    results = []
    for device in ("cpu", "cuda"):
        w = mg.tensor(np.zeros(3), device=device, requires_grad=True)
        An, bn = mg.tensor(A, device=device), mg.tensor(b, device=device)
        opt = optim.Newton([w], line_search_fn="backtracking")
        for _ in range(2):
            opt.step(lambda: ((An @ w - bn) ** 2).sum())
        results.append(w.numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
    np.testing.assert_allclose(results[0], np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-10)


@pytest.mark.cuda
@pytest.mark.parametrize("compressor", [lambda: QSGD(4, 128, seed=5), lambda: TopK(0.1), FP16],
                         ids=["qsgd", "topk", "fp16"])
def test_compressors_give_the_same_bytes_for_device_arrays(compressor):
    cupy = backend.array_module("cuda")
    x = np.random.default_rng(6).standard_normal(1000).astype(np.float32)
    on_host, on_device = compressor(), compressor()
    for step in range(2):                               # a second step uses TopK's residual
        payload = on_device.compress(cupy.asarray(x * (step + 1)), key="w")
        assert np.array_equal(payload, on_host.compress(x * (step + 1), key="w"))
        np.testing.assert_array_equal(backend.to_numpy(on_device.decompress(payload)),
                                      on_host.decompress(payload))


@pytest.mark.cuda
def test_tensor_to_cuda_and_back_is_differentiable():
    x = mg.tensor([1.0, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    y = x.to("cuda")                                     # once a NumPy-on-device TypeError
    assert y.device == "cuda" and x.cuda().device == "cuda"
    (y * y).sum().cpu().backward()
    assert x.grad.device == "cpu" and x.grad.numpy().tolist() == [2.0, -4.0, 6.0]


@pytest.mark.cuda
def test_word2vec_queries_on_cuda_equal_the_same_vectors_on_cpu(tmp_path):
    from minigrad.word2vec import KeyedVectors, Word2Vec, lee_corpus

    model = Word2Vec(lee_corpus()[:60], vector_size=16, min_count=2, epochs=1, device="cuda")
    wv = model.wv
    host = KeyedVectors(wv.vector_size, wv.index_to_key, backend.to_numpy(wv.vectors))
    words = wv.index_to_key[:3]
    ours, expected = (kv.most_similar(positive=words[:2], negative=words[2], topn=5) for kv in (wv, host))
    assert [w for w, _ in ours] == [w for w, _ in expected]
    np.testing.assert_allclose([c for _, c in ours], [c for _, c in expected], rtol=1e-5)  # GPU: last bits
    assert wv.similarity(*words[:2]) == host.similarity(*words[:2])
    np.testing.assert_array_equal(wv[words], host[words])
    wv.save(tmp_path / "wv.npz")
    np.testing.assert_array_equal(KeyedVectors.load(tmp_path / "wv.npz").vectors, host.vectors)


@pytest.mark.cuda
def test_gradcheck_and_hessian_work_on_cuda():
    x = mg.tensor([0.3, -1.2, 2.0], dtype=np.float64, device="cuda", requires_grad=True)
    assert mg.autograd.gradcheck(lambda t: (t.tanh() * t).sum(), [x])
    H = mg.autograd.functional.hessian(lambda t: (t ** 3).sum(), x)
    assert H.device == "cuda"
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x.numpy()), rtol=1e-12)


@pytest.mark.cuda
@pytest.mark.parametrize("seed_device", ["cpu", "cuda"])
def test_backward_from_a_seed_on_the_wrong_device_names_both(seed_device):
    out_device = "cuda" if seed_device == "cpu" else "cpu"
    y = mg.tensor([1.0, 2.0], device=out_device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=f"grad is on {seed_device} but the output is on {out_device}"):
        y.backward(mg.ones(2, device=seed_device))


@pytest.mark.cuda
def test_random_graphs_on_cuda_match_torch():
    """The differential fuzzer's programs (tests/autograd_fuzz.py) on "cuda": backward x2, grad, double backward."""
    import random

    from autograd_fuzz import build_program, describe, run_program

    rng = random.Random(19)
    for seed in range(300):
        leaf_shapes, steps = build_program(rng.choice)
        problems = run_program(leaf_shapes, steps, seed, device="cuda")
        assert not problems, describe(leaf_shapes, steps) + f"\nseed {seed}\n" + "\n".join(problems)
