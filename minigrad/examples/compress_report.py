"""QSGD on a real gradient: bits per coordinate, variance, speed, and when compression pays.

    python -m minigrad.examples.compress_report [--hidden 512] [--draws 20]

1. Take one gradient of an MLP (minigrad, synthetic 10-class data) as one flat
   float32 vector of n coordinates, as DDP would see it.
2. For s in {1, 2, 4, 16, 256} and bucket size d in {128, 512, n}: payload bits
   per coordinate, the Monte-Carlo variance E||Q(g) - g||^2 over `--draws`
   draws beside the exact (||v||/s)^2 sum p_i(1 - p_i) (Alistarh et al. 2017,
   Lemma 3.1), and encode/decode time.
3. The break-even rule. Sending a dense fp32 gradient with a ring all-reduce
   costs each of p ranks 2(p-1)/p * 4n bytes (reduce-scatter, then all-gather).
   Compressed payloads cannot be summed in flight (each rank's levels have their
   own scales), so they are all-gathered: (p-1) * m bytes per rank for m-byte
   payloads. The all-gather sends less exactly when
        (p-1) m < 2(p-1)/p * 4n   <=>   ratio = 4n/m > p/2,
   i.e. a compressor with ratio r beats the dense ring only below p = 2r ranks.
"""
import argparse
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.compress import QSGD

LEVELS = (1, 2, 4, 16, 256)
RANKS = (2, 4, 8, 16, 64)


def model_gradient(hidden, seed=0):
    """Flat float32 gradient of cross-entropy for a 2-hidden-layer MLP on synthetic data."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 128)).astype(np.float32)
    teacher = rng.standard_normal((128, 10)).astype(np.float32)
    y = np.argmax(X @ teacher + rng.standard_normal((512, 10)), axis=1)
    mg.manual_seed(seed)
    net = nn.Sequential(nn.Linear(128, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, 10))
    F.cross_entropy(net(mg.tensor(X)), mg.tensor(y)).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in net.parameters()])


def best_ms(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best, result


def measure(g, levels, bucket_size, draws):
    """One table row: bits/coord, Monte-Carlo and exact variance, encode and decode ms."""
    q = QSGD(levels, bucket_size, seed=levels)
    encode_ms, payload = best_ms(lambda: q.compress(g))
    decode_ms, _ = best_ms(lambda: q.decompress(payload))
    g64 = g.astype(np.float64)
    errors = [np.sum((q.dequantize(*q.quantize(g)) - g64) ** 2) for _ in range(draws)]
    return dict(bits=8 * payload.nbytes / g.size, mc=float(np.mean(errors)),
                exact=q.variance(g), encode_ms=encode_ms, decode_ms=decode_ms)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args(argv)

    g = model_gradient(args.hidden)
    n = g.size
    norm2 = float(np.dot(g.astype(np.float64), g))
    print(f"gradient of a 128-{args.hidden}-{args.hidden}-10 MLP: n = {n:,} coordinates, "
          f"||g||^2 = {norm2:.4g}; dense fp32 = 32 bits/coordinate\n")
    header = (f"{'s':>4}{'d':>9}{'bits/coord':>12}{'ratio':>8}{'MC var/||g||^2':>16}"
              f"{'exact':>10}{'MC/exact':>10}{'encode ms':>11}{'decode ms':>11}")
    print(header)
    print("-" * len(header))
    rows = []
    for levels in LEVELS:
        for d in (128, 512, None):
            row = measure(g, levels, d, args.draws)
            row.update(levels=levels, d=d or n, ratio=32 / row["bits"])
            rows.append(row)
            print(f"{levels:>4}{row['d']:>9}{row['bits']:>12.3f}{row['ratio']:>8.1f}"
                  f"{row['mc'] / norm2:>16.4g}{row['exact'] / norm2:>10.4g}"
                  f"{row['mc'] / row['exact']:>10.3f}{row['encode_ms']:>11.1f}"
                  f"{row['decode_ms']:>11.1f}")

    print("\nbreak-even: all-gather of compressed payloads beats the dense fp32 ring all-reduce")
    print("only when the compression ratio exceeds p/2 (bytes sent per rank, in KiB):\n")
    header = f"{'s':>4}{'d':>9}{'ratio':>8}" + "".join(f"{'p=' + str(p):>16}" for p in RANKS)
    print(header)
    print("-" * len(header))
    for row in rows:
        m = row["bits"] * n / 8
        cells = []
        for p in RANKS:
            dense, gather = 2 * (p - 1) / p * 4 * n, (p - 1) * m
            assert (gather < dense) == (row["ratio"] > p / 2)      # the rule, checked
            cells.append(f"{gather / 1024:7.0f}{'<' if gather < dense else '>'}{dense / 1024:<7.0f}")
        print(f"{row['levels']:>4}{row['d']:>9}{row['ratio']:>8.1f}" + "".join(f"{c:>16}" for c in cells))
    print("\n'a<b': the all-gather sends a KiB, the ring b KiB, so compression wins; '>' it loses.")


if __name__ == "__main__":
    main()
