"""``make demo``: train a small MLP on three interleaved spirals, in minigrad and
in PyTorch from the same initial weights, and show that the two loss curves agree.

    python -m minigrad.examples.demo [--epochs 300] [--hidden 64] [--lr 0.5]
"""
import argparse
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.optim import SGD


def spirals(points_per_class=200, classes=3, noise=0.2, seed=0):
    """Three arms of a spiral in the plane (the classic CS231n toy set), labels 0..classes-1."""
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, points_per_class), classes)
    labels = np.repeat(np.arange(classes), points_per_class)
    theta = labels * (2 * np.pi / classes) + r * 4 + rng.standard_normal(r.size) * noise
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return X, labels


def progress(iterable, total):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the 'lessons' extra; the demo runs without it
        return iterable
    return tqdm(iterable, total=total, desc="training", unit="epoch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args(argv)

    import torch  # the reference; installed with the 'test' extra

    mg.set_default_dtype(np.float64)
    mg.manual_seed(0)
    X, y = spirals()
    net = nn.Sequential(nn.Linear(2, args.hidden), nn.Tanh(), nn.Linear(args.hidden, args.hidden), nn.Tanh(),
                        nn.Linear(args.hidden, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(2, args.hidden), torch.nn.Tanh(),
                              torch.nn.Linear(args.hidden, args.hidden), torch.nn.Tanh(),
                              torch.nn.Linear(args.hidden, 3)).double()
    with torch.no_grad():  # same starting point: copy minigrad's weights into PyTorch, by name
        for name, p in ref.named_parameters():
            p.copy_(torch.from_numpy(net.state_dict()[name].numpy()))
    opt, ref_opt = SGD(net.parameters(), lr=args.lr, momentum=0.9), torch.optim.SGD(ref.parameters(), lr=args.lr, momentum=0.9)
    Xm, Xt, yt = mg.tensor(X), torch.tensor(X), torch.tensor(y)

    ours_s = theirs_s = 0.0
    rows = []
    for epoch in progress(range(1, args.epochs + 1), args.epochs):
        start = time.perf_counter()
        loss = F.cross_entropy(net(Xm), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ours_s += time.perf_counter() - start

        start = time.perf_counter()
        ref_loss = torch.nn.functional.cross_entropy(ref(Xt), yt)
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        theirs_s += time.perf_counter() - start
        if epoch == 1 or epoch % (args.epochs // 6 or 1) == 0:
            rows.append((epoch, loss.item(), ref_loss.item()))

    print(f"\n{'epoch':>6} {'minigrad loss':>16} {'PyTorch loss':>16} {'|difference|':>13}")
    for epoch, a, b in rows:
        print(f"{epoch:6d} {a:16.12f} {b:16.12f} {abs(a - b):13.2e}")
    with mg.no_grad():
        accuracy = (net(Xm).numpy().argmax(axis=1) == y).mean()
    worst = max(abs(a - b) for _, a, b in rows)
    print(f"\nfinal loss {rows[-1][1]:.6f}, training accuracy {accuracy:.1%}")
    print(f"time per step: minigrad {1e3 * ours_s / args.epochs:.3f} ms, PyTorch {1e3 * theirs_s / args.epochs:.3f} ms")
    print(f"largest loss difference from PyTorch: {worst:.2e} -> {'EQUAL (float64)' if worst < 1e-8 else 'DIFFERENT'}")
    return 0 if worst < 1e-8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
