"""Mixed precision and fake quantization: what they cost here, as ratios measured in one run.

1. One SGD training step (forward, backward, update) of the same MLP in float32, in float16
   (``amp.ComputeCopy`` + ``GradScaler``) and in emulated bfloat16, on CPU (and GPU when CuPy
   sees one): median step time as a ratio to float32. Then the peak of NumPy allocations during
   one step (tracemalloc, CPU), for that MLP (weights dominate memory) and for a narrow MLP at a
   large batch (activations dominate), as ratios to float32. PyTorch's own CPU step in float32 and under
   ``torch.autocast("cpu", dtype=torch.bfloat16)`` is timed alongside as the peer that has
   real 16-bit CPU kernels (oneDNN).
2. Fake-quantize throughput (elements/s) of minigrad vs PyTorch on 10^7 float32 values, per
   tensor and per channel, forward and forward+backward; ratio = minigrad time / torch time.

NumPy has no float16 BLAS: its float16 matmul is a scalar loop, so the float16 rows are
expected to be far slower than float32 on a CPU. That is the point of printing them.

    python benchmarks/bench_amp.py            # add --quick for a shorter run
"""
import statistics
import sys
import time
import tracemalloc

import numpy as np
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import amp, backend, optim
from minigrad import quantization as Q

QUICK = "--quick" in sys.argv
IN, HIDDEN, OUT, BATCH = 256, 512, 10, 128
REPEATS = 3 if QUICK else 5


def median_seconds(fn, repeats=REPEATS, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def minigrad_step(mode, device, width=HIDDEN, batch=BATCH, in_features=IN):
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(in_features, width, device=device), nn.ReLU(), nn.Linear(width, width, device=device),
                        nn.ReLU(), nn.Linear(width, OUT, device=device))
    model = net if mode == "float32" else amp.ComputeCopy(net, mode)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    scaler = amp.GradScaler(enabled=mode == "float16")
    rng = np.random.default_rng(0)
    X = mg.tensor(rng.standard_normal((batch, in_features)).astype(np.float32)).to(device)
    y = backend.to_device(rng.integers(0, OUT, batch), device)

    def step():
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device == "cuda":
            backend.array_module("cuda").cuda.Device().synchronize()
    return step


def peak_bytes(step):
    step()  # optimizer state and gradients exist from here on, as in a real run
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def torch_step(autocast):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                              torch.nn.ReLU(), torch.nn.Linear(HIDDEN, OUT))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    X, y = torch.randn(BATCH, IN), torch.randint(0, OUT, (BATCH,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def bench_training():
    devices = ["cpu"] + (["cuda"] if backend.cupy_available() else [])
    print(f"MLP {IN}-{HIDDEN}-{HIDDEN}-{OUT}, batch {BATCH}, SGD(momentum); median of {REPEATS} steps")
    print(f"{'device':<6} {'mode':<22} {'step ms':>10} {'vs fp32':>8}")
    for device in devices:
        base = None
        for mode in ("float32", "float16", "bfloat16"):
            slow = mode == "float16" and device == "cpu"      # NumPy's float16 matmul: seconds per step
            seconds = median_seconds(minigrad_step(mode, device), repeats=1 if slow and QUICK else REPEATS)
            base = base or seconds
            print(f"{device:<6} {'minigrad ' + mode:<22} {seconds * 1e3:>10.1f} {seconds / base:>7.2f}x")
    torch32 = median_seconds(torch_step(False))
    torch16 = median_seconds(torch_step(True))
    print(f"{'cpu':<6} {'torch float32':<22} {torch32 * 1e3:>10.1f} {1.0:>7.2f}x")
    print(f"{'cpu':<6} {'torch autocast bf16':<22} {torch16 * 1e3:>10.1f} {torch16 / torch32:>7.2f}x")
    print("\npeak NumPy memory during one training step (tracemalloc), minigrad on CPU")
    print(f"{'shape':<34} {'float32 MB':>10} {'float16':>8} {'bfloat16':>9}")
    # The float16 step also holds a float16 copy of its input batch (the float32 batch exists before the
    # step and is not counted): with 256 inputs per example that copy alone is a third of the peak.
    for label, width, batch, inputs in [(f"{IN}-{HIDDEN}-{HIDDEN}, batch {BATCH}", HIDDEN, BATCH, IN),
                                        ("256-64-64, batch 4096", 64, 4096, IN),
                                        ("64-64-64, batch 4096", 64, 4096, 64)]:
        peaks = [peak_bytes(minigrad_step(mode, "cpu", width, batch, inputs)) for mode in ("float32", "float16", "bfloat16")]
        print(f"{label:<34} {peaks[0] / 1e6:>10.2f} {peaks[1] / peaks[0]:>7.2f}x {peaks[2] / peaks[0]:>8.2f}x")


def bench_fake_quantize():
    n = 10**6 if QUICK else 10**7
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n // 1000, 1000)).astype(np.float32)
    scale_c = rng.uniform(0.01, 0.1, x.shape[0]).astype(np.float32)
    zp_c = rng.integers(0, 256, x.shape[0]).astype(np.int32)
    xt, st, zt = torch.from_numpy(x), torch.from_numpy(scale_c), torch.from_numpy(zp_c)
    cases = [
        ("per tensor, forward",
         lambda: Q.fake_quantize_per_tensor_affine(mg.tensor(x), 0.05, 128, 0, 255),
         lambda: torch.fake_quantize_per_tensor_affine(xt, 0.05, 128, 0, 255)),
        ("per channel, forward",
         lambda: Q.fake_quantize_per_channel_affine(mg.tensor(x), scale_c, zp_c, 0, 0, 255),
         lambda: torch.fake_quantize_per_channel_affine(xt, st, zt, 0, 0, 255)),
        ("per tensor, fwd+bwd",
         lambda: Q.fake_quantize_per_tensor_affine(mg.tensor(x, requires_grad=True), 0.05, 128, 0, 255).sum().backward(),
         lambda: torch.fake_quantize_per_tensor_affine(xt.clone().requires_grad_(), 0.05, 128, 0, 255).sum().backward()),
    ]
    print(f"\nfake quantize on {n:.0e} float32 values (torch: {torch.get_num_threads()} thread)")
    print(f"{'case':<22} {'minigrad Melem/s':>17} {'torch Melem/s':>14} {'mg time / torch':>16}")
    for name, ours, theirs in cases:
        t_ours, t_theirs = median_seconds(ours), median_seconds(theirs)
        print(f"{name:<22} {n / t_ours / 1e6:>17.0f} {n / t_theirs / 1e6:>14.0f} {t_ours / t_theirs:>15.2f}x")


if __name__ == "__main__":
    torch.set_num_threads(1)
    bench_training()
    bench_fake_quantize()
