"""Data-parallel training of an MLP over MPI, checked against single-process big-batch SGD.

    mpiexec -n 4 python -m minigrad.examples.ddp_mlp
    mpiexec -n 4 python -m minigrad.examples.ddp_mlp --accum 2 --clip 1.0 --warmup 20
    mpiexec -n 4 python -m minigrad.examples.ddp_mlp --compress qsgd      # or topk, fp16

(With several ranks per machine, give each rank one BLAS thread:
``OPENBLAS_NUM_THREADS=1 mpiexec ...``; OpenBLAS threads that spin on shared
cores made this demo 10-20x slower on a 2-core machine.)

Each of the p ranks holds a replica of the model (float64) and, per step, K
micro-batches of ``--batch`` examples from its own shard of a synthetic data
set (labels drawn by a random "teacher" network). ``DistributedDataParallel``
averages the gradients inside the last micro-batch's ``loss.backward()`` (the
others run under ``no_sync``), once per step; after optional global-norm clipping
every replica takes the same SGD step. The learning rate follows the linear
scaling rule for the global batch p*K*batch, optionally reached by a linear
warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 2.1-2.2).

At the end rank 0 trains the same model alone on the concatenated global
batches and prints both final losses. Without compression the two runs are the
same computation and must agree to 1e-10 (the script exits non-zero if not);
with compression they differ by the compressor's noise, and the script reports
the gap and the bytes each rank sent.
"""
import argparse
import sys
import time

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.compress import FP16, QSGD, TopK
from minigrad.distributed.comm_hooks import compressor_hook
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import LinearWarmup, linear_scaling_rule

COMPRESSORS = {                       # each rank its own random stream (see compress/qsgd.py)
    "none": lambda rank: None,
    "qsgd": lambda rank: QSGD(levels=16, bucket_size=512, seed=1000 + rank),
    "topk": lambda rank: TopK(ratio=0.1),     # 0.01 diverges here with lr 0.2 and momentum 0.9
    "fp16": lambda rank: FP16(),
}


def synthetic_data(n=4096, features=20, classes=4, seed=0):
    """Gaussian inputs labelled by the argmax of a random two-layer 'teacher' network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    W1, W2 = rng.standard_normal((features, 32)), rng.standard_normal((32, classes))
    y = np.argmax(np.tanh(X @ W1) @ W2, axis=1)
    return X, y


def make_model(features, hidden, classes):
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, classes))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accum", type=int, default=1, help="micro-batches per step (K)")
    parser.add_argument("--clip", type=float, default=0.0, help="global-norm clip (0: off)")
    parser.add_argument("--compress", choices=sorted(COMPRESSORS), default="none")
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps (0: off)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32, help="examples per micro-batch per rank")
    parser.add_argument("--lr", type=float, default=0.05, help="lr for one micro-batch of --batch")
    parser.add_argument("--hidden", type=int, default=128)
    return parser.parse_args(argv)


class Run:
    """One training run: the model, its optimizer and schedule, stepped on given batches."""

    def __init__(self, model, args, global_batch, parameters):
        self.model, self.args = model, args
        self.lr = linear_scaling_rule(args.lr, global_batch, base_batch_size=args.batch)
        self.opt = SGD(parameters, lr=self.lr, momentum=0.9)
        factor = args.batch / global_batch                      # start from the small-batch lr
        self.schedule = LinearWarmup(self.opt, args.warmup, start_factor=factor) if args.warmup else None

    def finish_step(self, parameters):
        if self.args.clip > 0:
            clip_grad_norm_(parameters, self.args.clip)
        self.opt.step()
        self.opt.zero_grad()
        if self.schedule is not None:
            self.schedule.step()


def loss_on(model, X, y):
    with mg.no_grad():
        return F.cross_entropy(model(mg.tensor(X)), mg.tensor(y)).item()


def main(argv=None):
    args = parse_args(argv)
    mg.set_default_dtype(np.float64)
    p, rank = dist.get_world_size(), dist.get_rank()
    X, y = synthetic_data()
    K, b = args.accum, args.batch
    global_batch = p * K * b
    sampler = dist.DistributedSampler(len(X), shuffle=True, seed=1)
    steps_per_epoch = len(sampler) // (K * b)

    net = make_model(X.shape[1], args.hidden, int(y.max()) + 1)
    ddp = dist.DistributedDataParallel(net)
    compressor = COMPRESSORS[args.compress](rank)
    if compressor is not None:
        ddp.register_comm_hook(compressor, compressor_hook)
    run = Run(ddp, args, global_batch, ddp.parameters())
    if rank == 0:
        warmup = f", warm-up from {run.opt.param_groups[0]['lr']:.3g} over {args.warmup} steps" \
            if args.warmup else ""
        print(f"{p} ranks x {K} micro-batches x {b} examples = global batch {global_batch}; "
              f"lr {run.lr:.3g} (linear scaling{warmup}); compress={args.compress}", flush=True)

    from tqdm import tqdm
    start = time.perf_counter()
    for epoch in tqdm(range(args.epochs), desc=f"DDP on {p} ranks", disable=rank != 0):
        sampler.set_epoch(epoch)
        mine = sampler.indices()
        for step in range(steps_per_epoch):
            micro = np.split(mine[step * K * b:(step + 1) * K * b], K)
            with ddp.no_sync():                                  # accumulate locally...
                for idx in micro[:-1]:
                    (F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])) / K).backward()
            idx = micro[-1]                                      # ...average once per step
            (F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])) / K).backward()
            run.finish_step(ddp.parameters())
    seconds = time.perf_counter() - start
    syncs = args.epochs * steps_per_epoch
    dense_ring_bytes = syncs * sum(2 * (p - 1) * b.data().nbytes // p for b in ddp.buckets)
    result = {"final_loss": loss_on(net, X, y), "bytes_sent": ddp.bytes_sent, "seconds": seconds,
              "dense_ring_bytes": dense_ring_bytes}

    if rank == 0:
        result.update(single_process_reference(args, X, y, sampler, steps_per_epoch, global_batch))
        result["max_param_gap"] = max(float(np.abs(a.data - r.data).max())
                                      for a, r in zip(net.parameters(), result.pop("model").parameters()))
        report(args, p, result)
    dist.barrier()
    if rank == 0 and args.compress == "none" and result["max_param_gap"] > 1e-10:
        sys.exit("FAILED: data-parallel training differs from single-process big-batch SGD")
    return result


def single_process_reference(args, X, y, sampler, steps_per_epoch, global_batch):
    """The same training in one process: each step one batch = all ranks' micro-batches."""
    model = make_model(X.shape[1], args.hidden, int(y.max()) + 1)
    run = Run(model, args, global_batch, model.parameters())
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for step in range(steps_per_epoch):
            idx = sampler.global_batch(step, args.accum * args.batch)
            F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
            run.finish_step(model.parameters())
    return {"model": model, "reference_loss": loss_on(model, X, y)}


def report(args, p, r):
    print(f"final training loss, data-parallel:         {r['final_loss']:.10f}")
    print(f"final training loss, single-process SGD:    {r['reference_loss']:.10f}")
    print(f"largest parameter difference:               {r['max_param_gap']:.2e}")
    if args.compress == "none":
        verdict = "OK" if r["max_param_gap"] <= 1e-10 else "FAILED"
        print(f"check: data-parallel == big-batch SGD to 1e-10: {verdict}")
    else:
        gap = abs(r["final_loss"] - r["reference_loss"]) / r["reference_loss"]
        print(f"compressed ({args.compress}) vs uncompressed final loss: {100 * gap:.2f}% apart")
    print(f"gradient bytes sent by rank 0: {r['bytes_sent']:,} in {r['seconds']:.2f} s of training "
          f"({r['bytes_sent'] / max(r['dense_ring_bytes'], 1):.3f} of a dense ring all-reduce's "
          f"{r['dense_ring_bytes']:,})")


if __name__ == "__main__":
    main()
