"""GPT training throughput: minigrad vs the same model in PyTorch on the CPU, and model FLOPs utilisation.

Run: python benchmarks/bench_gpt.py [--threads 1] [--steps 5] [--profile]
Target (issue 14): minigrad's training tokens/s at least 1.0x PyTorch's (same thread count) at the
train_gpt default config and at one about 4x larger. Both call the same kind of BLAS for the matmuls.

One training step = forward, loss, backward, AdamW step, zero_grad, float32, the same
batch every step. The PyTorch model is ``tests/shared_gpt.py``'s definition built from
torch (GPT-2's layout with nanoGPT's names), loaded with minigrad's initial weights.

Model FLOPs utilisation (PaLM, Chowdhery et al. 2022, appendix B): a training step
costs about 6N FLOPs per token for N parameters (2N forward, 4N backward) plus the
attention scores and their use, 12·n_layer·T·C per token (nanoGPT's estimate_mfu);
MFU = that times tokens/s, divided by the matmul FLOP/s this machine actually
reaches (measured here with a float32 matmul of the same thread count), not a
datasheet peak. ``--profile`` prints where minigrad's step spends its time (cProfile).
"""
import argparse
import os
import sys

ARGS = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ARGS.add_argument("--threads", type=int, default=1)
ARGS.add_argument("--steps", type=int, default=5, help="timed steps per repeat")
ARGS.add_argument("--repeat", type=int, default=3)
ARGS.add_argument("--profile", action="store_true")
OPTS = ARGS.parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(OPTS.threads)  # before NumPy and torch load their BLAS

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.models.gpt import GPT, GPTConfig  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from shared_gpt import define_gpt  # noqa: E402

torch.set_num_threads(OPTS.threads)
VOCAB = 81  # the Lee corpus' characters
CONFIGS = {  # (config, batch size): train_gpt's default, then ~4x the parameters (twice the width)
    "default": (GPTConfig(block_size=64, vocab_size=VOCAB, n_layer=3, n_head=4, n_embd=96), 32),
    "4x": (GPTConfig(block_size=64, vocab_size=VOCAB, n_layer=3, n_head=4, n_embd=192), 32),
}


def matmul_gflops(n=512, repeat=5):
    """The float32 matmul rate this process reaches (the MFU denominator)."""
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def twin_models(config):
    mg.manual_seed(0)
    ours = GPT(config)
    theirs = define_gpt(torch)[3](config)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def step_fns(config, batch):
    ours, theirs = twin_models(config)
    rng = np.random.default_rng(0)
    idx, targets = (rng.integers(0, config.vocab_size, (batch, config.block_size)) for _ in range(2))
    opt = ours.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
    decay = [p for p in theirs.parameters() if p.dim() >= 2]
    other = [p for p in theirs.parameters() if p.dim() < 2]
    opt_t = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                              lr=1e-3, betas=(0.9, 0.99), foreach=True)
    x, y, xt, yt = mg.tensor(idx), mg.tensor(targets), torch.tensor(idx), torch.tensor(targets)

    def step_ours():
        _, loss = ours(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def step_theirs():
        _, loss = theirs(xt, yt)
        loss.backward()
        opt_t.step()
        opt_t.zero_grad(set_to_none=True)

    return ours, step_ours, step_theirs


def tokens_per_second(step, tokens):
    step()  # warm-up: allocations, optimizer state
    best = min(_timed(lambda: [step() for _ in range(OPTS.steps)]) for _ in range(OPTS.repeat))
    return OPTS.steps * tokens / best


def main():
    peak = matmul_gflops()
    print(f"threads {OPTS.threads}; measured float32 matmul (512^3): {peak:.1f} GFLOP/s")
    print(f"{'config':8} {'params':>9} {'tokens/step':>11} {'minigrad tok/s':>15} {'torch tok/s':>12} "
          f"{'ratio':>6} {'MFU mg':>7} {'MFU torch':>9}")
    for name, (config, batch) in CONFIGS.items():
        model, ours, theirs = step_fns(config, batch)
        tokens = batch * config.block_size
        # interleave the two so a change in machine load hits both
        rates = [(tokens_per_second(ours, tokens), tokens_per_second(theirs, tokens)) for _ in range(2)]
        mine, torch_rate = max(r[0] for r in rates), max(r[1] for r in rates)
        n = model.get_num_params(non_embedding=False)
        flops_per_token = 6 * n + 12 * config.n_layer * config.block_size * config.n_embd
        mfu = [rate * flops_per_token / 1e9 / peak for rate in (mine, torch_rate)]
        print(f"{name:8} {n:>9,} {tokens:>11,} {mine:>15,.0f} {torch_rate:>12,.0f} {mine / torch_rate:>6.2f} "
              f"{100 * mfu[0]:>6.1f}% {100 * mfu[1]:>8.1f}%")
        if OPTS.profile:
            profile(ours)


def profile(step):
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(OPTS.steps):
        step()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
