"""Train a character-level GPT, on one process or data-parallel over MPI.

    python -m minigrad.examples.train_gpt                              # Lee corpus, a few minutes on a CPU
    mpiexec -n 4 python -m minigrad.examples.train_gpt --grad-accum 2  # 4 ranks x 2 micro-batches per step
    mpiexec -n 4 python -m minigrad.examples.train_gpt --compress qsgd # or topk, fp16, efsign, powersgd
    python -m minigrad.examples.train_gpt --amp bfloat16 --steps 200     # mixed precision (or float16)
    python -m minigrad.examples.train_gpt --data input.txt --steps 3000 --out out-shakespeare
    python -m minigrad.examples.train_gpt --out out-gpt --steps 1000 --resume   # continue a run

One optimizer step = every rank runs ``--grad-accum`` micro-batches of
``--batch-size`` windows of ``--block-size`` characters; ``loss.backward()``
accumulates locally inside ``model.no_sync()`` and averages over the ranks on
the last micro-batch (DistributedDataParallel). Then the global gradient norm
is clipped, AdamW steps and the gradients are dropped. The global batch of step
s is drawn from a generator seeded by (seed, s) and split among ranks and
micro-batches, so p ranks x K micro-batches of b windows train exactly like one
process with one batch of p*K*b windows.

``--amp float16`` (or ``bfloat16``) runs forward and backward on a half-precision
copy of the float32 weights (``minigrad.amp.ComputeCopy``, Micikevicius et al.
2018) and, for float16, scales the loss with ``GradScaler`` so that small
gradients do not flush to zero; without it the scaler calls pass straight through.
NumPy has no float16 matrix kernels, so on a CPU this is for study, not speed.

The learning rate warms up linearly, then decays along a cosine to ``--min-lr``
(Loshchilov & Hutter 2017, "SGDR", eq. 5, without restarts; nanoGPT's closed form):

    lr(s) = lr_max (s+1)/(warmup+1)                                   for s < warmup
    lr(s) = lr_min + ½(1 + cos(π (s - warmup)/(D - warmup))) (lr_max - lr_min)   after, D = --decay-steps

Rank 0 shows progress (tokens/s) with tqdm, evaluates the held-out loss every
``--eval-interval`` steps, writes ``ckpt.npz`` atomically (model, optimizer,
step, random state, history; the data position is the step), ``loss.png`` and
``metrics.json`` under ``--out``, and prints a text sample at the end.
``--resume`` continues from ``ckpt.npz`` bit for bit (without ``--compress``:
a hook's state, such as error-feedback memory, is not checkpointed).

The defaults (3 layers, n_embd 96, 343k parameters, 1000 steps of 32 x 64
characters) took 6 minutes on one core of a busy 2-core machine (5.4k tokens/s)
and reached a validation loss of 1.66 nats/char (a bigram model: 2.47), with
samples such as "led on the Africa who stought impent of the but late against
interference of parties and who milited by the against fire to activious morning".
"""
import argparse
import contextlib
import json
import math
import os
import time
from dataclasses import asdict

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad import amp
from minigrad import config as mg_config
from minigrad.compress import FP16, QSGD, EFSign, PowerSGDState, TopK
from minigrad.distributed.comm_hooks import compressor_hook, powerSGD_hook
from minigrad.examples.chardata import CharData
from minigrad.models.gpt import GPT, GPTConfig
from minigrad.nn.utils import clip_grad_norm_

COMM_HOOKS = {  # --compress NAME: (DDP comm hook, its state for this rank); "none" keeps DDP's all-reduce
    "qsgd": (compressor_hook, lambda rank: QSGD(levels=16, bucket_size=512, seed=1000 + rank)),  # own stream
    "topk": (compressor_hook, lambda rank: TopK(ratio=0.1)),  # with error feedback
    "fp16": (compressor_hook, lambda rank: FP16()),
    "efsign": (compressor_hook, lambda rank: EFSign()),
    "powersgd": (powerSGD_hook, lambda rank: PowerSGDState(None, matrix_approximation_rank=4, start_powerSGD_iter=10)),
}  # DGC is left out: its hook owns the momentum and needs plain SGD, this script uses AdamW


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="UTF-8 text file (default: gensim's lee_background.cor)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps in total")
    p.add_argument("--batch-size", type=int, default=32, help="windows per micro-batch per rank")
    p.add_argument("--block-size", type=int, default=64, help="context length in characters")
    p.add_argument("--n-layer", type=int, default=3)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=96)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step per rank")
    p.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip (0: off)")
    p.add_argument("--lr", type=float, default=6e-3, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    p.add_argument("--min-lr", type=float, default=6e-4, help="learning rate at the end of the cosine")
    p.add_argument("--decay-steps", type=int, default=None,
                   help="step where the cosine reaches --min-lr (default: --steps); keep it fixed across --resume")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--compress", choices=["none", *sorted(COMM_HOOKS)], default="none")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--amp", choices=["none", "float16", "bfloat16"], default="none",
                   help="mixed precision: float32 master weights, a float16/bf16 compute copy (minigrad.amp)")
    p.add_argument("--out", default="out-gpt", help="directory for ckpt.npz, loss.png, metrics.json")
    p.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.npz")
    p.add_argument("--eval-interval", type=int, default=200)
    p.add_argument("--eval-batches", type=int, default=8, help="validation batches per evaluation")
    p.add_argument("--sample-tokens", type=int, default=300, help="characters generated at the end")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--no-plot", action="store_true", help="skip loss.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if min(args.steps, args.batch_size, args.block_size, args.grad_accum, args.eval_interval) < 1:
        p.error("--steps, --batch-size, --block-size, --grad-accum and --eval-interval must be >= 1")
    if args.amp != "none" and args.dtype != "float32":
        p.error("--amp keeps float32 master weights: use it with --dtype float32")
    return args


def get_lr(step, args):
    """Linear warm-up, then cosine decay from --lr to --min-lr at --decay-steps (see the module docstring)."""
    decay_steps = args.decay_steps or args.steps
    if step < args.warmup:
        return args.lr * (step + 1) / (args.warmup + 1)
    if step >= decay_steps:
        return args.min_lr
    ratio = (step - args.warmup) / max(decay_steps - args.warmup, 1)  # 0 -> 1
    return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (args.lr - args.min_lr)


def my_micro_batches(data, step, args, rank, world):
    """This rank's K micro-batches of step ``step``: its slice of the global batch drawn for that step."""
    rng = np.random.default_rng((args.seed, step))
    per_rank = args.grad_accum * args.batch_size
    x, y = data.batch("train", world * per_rank, args.block_size, rng)  # (p*K*b, T) each
    x, y = x[rank * per_rank:(rank + 1) * per_rank], y[rank * per_rank:(rank + 1) * per_rank]  # (K*b, T)
    return list(zip(np.split(x, args.grad_accum), np.split(y, args.grad_accum)))  # K x ((b, T), (b, T))


@mg.no_grad()
def estimate_val_loss(model, data, args, rank, world):
    """Mean loss over a fixed set of validation windows, shared among the ranks (the same set every time)."""
    model.eval()
    rng = np.random.default_rng((args.seed, 10**9))
    total = 0.0
    for i in range(args.eval_batches):
        x, y = data.batch("val", args.batch_size, args.block_size, rng)  # (b, T) each
        if i % world == rank:
            _, loss = model(mg.tensor(x, device=args.device), mg.tensor(y, device=args.device))
            total += loss.item()
    model.train()
    total = np.array([total])
    if world > 1:
        dist.all_reduce(total)
    return float(total[0]) / args.eval_batches


def every_rank_rng_state():
    """The state of each rank's random stream (dropout, sampling), gathered in rank order."""
    mine = np.frombuffer(json.dumps(mg_config.rng.bit_generator.state).encode(), dtype=np.uint8)
    return [json.loads(state.tobytes()) for state in dist.all_gather_bytes(mine)]


def save_checkpoint(path, model, optimizer, scaler, step, history, data, args, rng_states):
    """Everything a bit-identical continuation needs; the data position is ``step`` (see my_micro_batches)."""
    mg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
             "step": step, "rng": rng_states, "history": history,
             "config": asdict(model.config), "vocab": "".join(data.chars), "seed": args.seed}, path)


def load_checkpoint(path, model, optimizer, scaler, data, args, rank, world):
    ckpt = mg.load(path)
    if ckpt["config"] != asdict(model.config) or ckpt["vocab"] != "".join(data.chars) or ckpt["seed"] != args.seed:
        raise SystemExit(f"train_gpt: {path} was written for another model, text or seed "
                         f"({ckpt['config']}); pass the same flags or another --out")
    if len(ckpt["rng"]) != world:
        raise SystemExit(f"train_gpt: {path} was written by {len(ckpt['rng'])} ranks; resume it on as many "
                         f"(this run has {world}) to continue bit for bit")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    mg_config.rng.bit_generator.state = ckpt["rng"][rank]
    return ckpt["step"], ckpt["history"]


def plot_losses(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(len(history["train"])), history["train"], lw=0.8, alpha=0.7, label="train (rank 0)")
    ax.plot(history["val_steps"], history["val"], "o-", label="validation")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title="character-level GPT")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    rank, world = dist.get_rank(), dist.get_world_size()
    dtype = np.dtype(args.dtype)
    mg.set_default_dtype(dtype)
    mg.manual_seed(args.seed)
    data = CharData.from_file(args.data) if args.data else CharData.default()
    config = GPTConfig(block_size=args.block_size, vocab_size=data.vocab_size, n_layer=args.n_layer,
                       n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout)
    model = GPT(config).to(args.device)
    mg.manual_seed(args.seed + 1 + rank)  # the same initial weights everywhere, then each rank its own dropout
    optimizer = model.configure_optimizers(args.weight_decay, args.lr, (0.9, args.beta2))
    scaler = amp.GradScaler(enabled=args.amp == "float16")  # loss scaling; a no-op without float16
    ckpt_path = os.path.join(args.out, "ckpt.npz")
    start, history = 0, {"train": [], "val": [], "val_steps": []}
    if args.resume:
        if not os.path.isfile(ckpt_path):
            raise SystemExit(f"train_gpt: --resume but there is no checkpoint at {ckpt_path}")
        start, history = load_checkpoint(ckpt_path, model, optimizer, scaler, data, args, rank, world)
    net = model if args.amp == "none" else amp.ComputeCopy(model, dtype=args.amp)
    ddp = dist.DistributedDataParallel(net)  # broadcasts rank 0's weights; backward averages
    if args.compress != "none":
        hook, make_state = COMM_HOOKS[args.compress]
        ddp.register_comm_hook(make_state(rank), hook)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        tokens = world * args.grad_accum * args.batch_size * args.block_size
        print(f"GPT {model.get_num_params():,} parameters ({config.n_layer} layers, {config.n_head} heads, "
              f"n_embd {config.n_embd}); {data.name}: {len(data.splits['train']):,} train / "
              f"{len(data.splits['val']):,} val characters, vocabulary {data.vocab_size}; "
              f"{world} ranks x {args.grad_accum} micro-batches x {args.batch_size} x {args.block_size} "
              f"= {tokens:,} tokens per step; steps {start}..{args.steps}", flush=True)

    from tqdm import tqdm
    bar = tqdm(range(start, args.steps), disable=rank != 0 or args.quiet, desc="train", unit="step")
    tokens_per_rank_step = args.grad_accum * args.batch_size * args.block_size
    t_last, train_seconds = time.perf_counter(), 0.0
    for step in bar:
        lr = get_lr(step, args)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if step % args.eval_interval == 0 and step > start:
            evaluate_and_save(ddp, model, optimizer, scaler, step, history, data, args, rank, world, ckpt_path)
            t_last = time.perf_counter()  # tokens/s counts training only
        step_loss = 0.0
        for micro, (x, y) in enumerate(my_micro_batches(data, step, args, rank, world)):
            last = micro == args.grad_accum - 1
            with contextlib.nullcontext() if last else ddp.no_sync():  # average only on the last
                _, loss = ddp(mg.tensor(x, device=args.device), mg.tensor(y, device=args.device))
                loss = loss / args.grad_accum  # the step's gradient is the mean over micro-batches
                scaler.scale(loss).backward()
            step_loss += loss.item()
        if args.clip > 0:
            scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
            clip_grad_norm_(model.parameters(), args.clip)
        scaler.step(optimizer)  # skipped if a float16 gradient overflowed
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        history["train"].append(step_loss)
        now = time.perf_counter()
        train_seconds += now - t_last
        if rank == 0 and not args.quiet:
            bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{lr:.2e}",
                            tok_s=f"{world * tokens_per_rank_step / (now - t_last):,.0f}")
        t_last = now
    evaluate_and_save(ddp, model, optimizer, scaler, args.steps, history, data, args, rank, world, ckpt_path)
    trained = args.steps - start
    result = {"val_loss": history["val"][-1], "history": history, "bytes_sent": ddp.bytes_sent,
              "world_size": world, "train_seconds": train_seconds,
              "tokens_per_second": world * tokens_per_rank_step * trained / max(train_seconds, 1e-9)}
    if rank == 0:
        finish(model, data, args, result)
    return result


def evaluate_and_save(ddp, model, optimizer, scaler, step, history, data, args, rank, world, ckpt_path):
    """Validation loss at ``step`` (all ranks), then rank 0 writes the checkpoint and the plot."""
    val = estimate_val_loss(ddp, data, args, rank, world)
    history["val"].append(val)
    history["val_steps"].append(step)
    rng_states = every_rank_rng_state()
    if rank == 0:
        train = history["train"][-1] if history["train"] else float("nan")
        print(f"\nstep {step}: train loss {train:.4f}, val loss {val:.4f}", flush=True)
        save_checkpoint(ckpt_path, model, optimizer, scaler, step, history, data, args, rng_states)
        if not args.no_plot:
            plot_losses(history, os.path.join(args.out, "loss.png"))


def finish(model, data, args, result):
    """Rank 0: metrics.json, and a sample that starts from the first characters of the validation text."""
    metrics = dict(result)
    metrics["args"] = vars(args)
    if args.sample_tokens > 0:
        model.eval()
        prompt = data.splits["val"][None, :8]  # (1, 8)
        out = model.generate(mg.tensor(prompt, device=args.device), args.sample_tokens, temperature=0.8, top_k=20)
        metrics["sample"] = data.decode(out.numpy()[0])
        print(f"\nsample (prompt {data.decode(prompt)!r}):\n{metrics['sample']}\n")
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"validation loss {result['val_loss']:.4f}; {result['tokens_per_second']:,.0f} tokens/s; "
          f"gradient bytes sent by rank 0: {result['bytes_sent']:,}; files in {args.out}/")


if __name__ == "__main__":
    main()
