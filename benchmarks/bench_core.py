"""Autograd overhead and MLP training steps: minigrad vs PyTorch CPU vs hand-written NumPy.

Run: python benchmarks/bench_core.py   (prints a table; ratios < 1 mean minigrad is faster)
Targets (issue 3): per-op overhead at most PyTorch's; the 64-64-10 MLP step faster
than PyTorch; the 784-512-512-10 step within 1.10x of hand-written NumPy.
Target (issue 11): causal attention forward+backward at (B=8, H=4, T=128, d=32) float32 within
1.5x of ``torch.nn.functional.scaled_dot_product_attention`` on the CPU (same thread count).
All timings are in one process, one thread, best of several repeats.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # same BLAS threads for every contender
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import timeit  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.optim  # noqa: E402,F401
import minigrad.nn.functional as F  # noqa: E402

torch.set_num_threads(1)


def best_time(fn, number, repeat=7):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


# ---- 1. one op, forward + backward, on a 4-element tensor ----------------
def per_op():
    x = mg.tensor(np.ones(4, np.float32), requires_grad=True)
    g = mg.tensor(np.ones(4, np.float32))
    xt = torch.ones(4, requires_grad=True)
    gt = torch.ones(4)
    xn, gn = np.ones(4, np.float32), np.ones(4, np.float32)

    def ours():
        x.tanh().backward(g)

    def theirs():
        xt.tanh().backward(gt)

    def numpy_by_hand():
        y = np.tanh(xn)
        return gn * (1 - y * y)

    return best_time(ours, 20000), best_time(theirs, 20000), best_time(numpy_by_hand, 20000)


# ---- 2./3. one SGD step of an MLP with cross-entropy ---------------------
def mlp(nn, sizes):
    """Linear-ReLU-...-Linear from either library: ``nn`` is ``minigrad.nn`` or ``torch.nn``."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def mlp_sizes_step(sizes, batch, number):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    lr = 0.01

    net = mlp(mg.nn, sizes)
    opt = mg.optim.SGD(net.parameters(), lr=lr)
    Xm = mg.tensor(X)

    def ours():
        loss = F.cross_entropy(net(Xm), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    tnet = mlp(torch.nn, sizes)
    topt = torch.optim.SGD(tnet.parameters(), lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def theirs():
        loss = torch.nn.functional.cross_entropy(tnet(Xt), yt)
        topt.zero_grad()
        loss.backward()
        topt.step()

    Ws = [p.data.copy() for p in net.parameters()]
    rows = np.arange(batch)

    def numpy_by_hand():
        acts = [X]
        h = X
        for k in range(0, len(Ws), 2):
            h = h @ Ws[k].T + Ws[k + 1]
            if k + 2 < len(Ws):
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p
        g[rows, y] -= 1
        g /= batch
        for k in range(len(Ws) - 2, -1, -2):
            a_in = acts[k // 2]
            gW, gb = g.T @ a_in, g.sum(axis=0)
            if k:
                g = (g @ Ws[k]) * (a_in > 0)
            Ws[k] -= lr * gW
            Ws[k + 1] -= lr * gb

    return best_time(ours, number), best_time(theirs, number), best_time(numpy_by_hand, number)


# ---- 4. causal scaled dot-product attention, forward + backward ---------
def attention(B=8, H=4, T=128, d=32, number=20):
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((B, H, T, d)).astype(np.float32) for _ in range(4))
    qm, km, vm = (mg.tensor(a, requires_grad=True) for a in (q, k, v))
    gm = mg.tensor(g)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    gt = torch.tensor(g)

    def ours():
        F.scaled_dot_product_attention(qm, km, vm, is_causal=True).backward(gm)

    def theirs():
        torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=True).backward(gt)

    return best_time(ours, number), best_time(theirs, number), None


def main():
    rows = [("per-op fwd+bwd, tanh on 4 floats", *per_op()),
            ("MLP 64-64-10, batch 32, SGD step", *mlp_sizes_step([64, 64, 10], 32, 500)),
            ("MLP 784-512-512-10, batch 128, SGD step", *mlp_sizes_step([784, 512, 512, 10], 128, 20)),
            ("causal SDPA fwd+bwd (8,4,128,32) float32", *attention())]
    print(f"{'benchmark':42s} {'minigrad':>11s} {'PyTorch':>11s} {'NumPy':>11s} {'vs torch':>9s} {'vs NumPy':>9s}")
    for name, ours, theirs, by_hand in rows:
        numpy_cols = ("-", "-") if by_hand is None else (f"{by_hand * 1e6:9.1f}us", f"{ours / by_hand:8.2f}x")
        print(f"{name:42s} {ours * 1e6:9.1f}us {theirs * 1e6:9.1f}us {numpy_cols[0]:>11s} "
              f"{ours / theirs:8.2f}x {numpy_cols[1]:>9s}")


if __name__ == "__main__":
    main()
