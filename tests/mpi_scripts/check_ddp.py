"""Run under `mpiexec -n p`: the idiomatic PyTorch DDP loop equals single-process big-batch training.

The loop is written as a PyTorch user writes it, nothing minigrad-specific:

    model = DistributedDataParallel(net)
    with model.no_sync():                      # first micro-batch: accumulate locally
        (loss_fn(model(X0), y0) / K).backward()
    (loss_fn(model(X1), y1) / K).backward()    # last one: averaged inside backward()
    clip_grad_norm_(model.parameters(), CLIP); opt.step(); opt.zero_grad()

Every rank also trains, alone, the reference on the concatenated global batch
(float64, SGD with momentum and weight decay, the same clipping). Checked after
every step: parameters bitwise equal on all ranks, and equal to the reference
to 1e-10. Then: `training.accumulate(..., no_sync=model.no_sync)` makes exactly
one collective per optimizer step; PyTorch's allreduce_hook gives the same
training; the QSGD, TopK and FP16 comm hooks keep replicas bitwise equal on fewer bytes;
find_unused_parameters=True averages a parameter used on some ranks only and
leaves one no rank used at None. Prints "rank r: ddp ok".
"""
import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.compress import FP16, QSGD, TopK
from minigrad.distributed import comm_hooks, guard
from minigrad.nn.utils import clip_grad_norm_
from minigrad.training import accumulate

mg.set_default_dtype(np.float64)
p, rank = dist.get_world_size(), dist.get_rank()
D_IN, HIDDEN, CLASSES = 6, 16, 3
MICRO, K, STEPS, CLIP = 4, 2, 6, 0.5
N = STEPS * p * K * MICRO

data_rng = np.random.default_rng(0)                      # the same data set on every rank
X = data_rng.standard_normal((N, D_IN))
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)


def make_model(seed, width=HIDDEN):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(D_IN, width), nn.Tanh(), nn.Linear(width, CLASSES))


def flat_params(model):
    return np.concatenate([q.data.reshape(-1) for q in model.parameters()])


def bitwise_equal_on_all_ranks(model):
    mine = flat_params(model)
    return all(np.array_equal(mine.view(np.uint64), other.view(np.uint64))
               for other in dist.all_gather(mine))


def train_and_compare(bucket_cap_mb, hook=None):
    net = make_model(seed=100 + rank)                    # different on every rank...
    model = dist.DistributedDataParallel(net, bucket_cap_mb=bucket_cap_mb)
    if hook is not None:
        model.register_comm_hook(None, hook)
    reference = make_model(seed=100)                     # ...until DDP copies rank 0's
    assert np.array_equal(flat_params(net), flat_params(reference)), "initial broadcast"
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    ref_opt = optim.SGD(reference.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    sampler = dist.DistributedSampler(N, shuffle=True, seed=3)
    mine, clipped, worst = sampler.indices(), 0, 0.0
    for step in range(STEPS):
        micro_batches = np.split(mine[step * K * MICRO:(step + 1) * K * MICRO], K)
        sent_before = model.bytes_sent
        with model.no_sync():
            idx = micro_batches[0]
            (F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx])) / K).backward()
        assert model.bytes_sent == sent_before, "no_sync must not communicate"
        idx = micro_batches[1]
        (F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx])) / K).backward()
        assert model.bytes_sent > sent_before, "the last backward must average"
        norm = clip_grad_norm_(model.parameters(), CLIP)
        clipped += float(norm.item()) > CLIP
        opt.step()
        opt.zero_grad()

        everything = sampler.global_batch(step, K * MICRO)          # p*K*MICRO examples
        F.cross_entropy(reference(mg.tensor(X[everything])), mg.tensor(y[everything])).backward()
        ref_norm = clip_grad_norm_(reference.parameters(), CLIP)
        ref_opt.step()
        ref_opt.zero_grad()

        assert bitwise_equal_on_all_ranks(net), f"replicas differ after step {step}"
        gap = np.abs(flat_params(net) - flat_params(reference)).max()
        assert gap <= 1e-10, f"DDP vs big-batch SGD: {gap:.3e} after step {step}"
        assert abs(norm.item() - ref_norm.item()) <= 1e-10 * ref_norm.item()
        worst = max(worst, gap)
    assert clipped > 0, "the clipping path was never taken"
    return worst, len(model.buckets)


def check_one_collective_per_step_with_accumulate():
    model = dist.DistributedDataParallel(make_model(seed=5))
    opt = optim.SGD(model.parameters(), lr=0.1)
    mine = dist.DistributedSampler(N, seed=4).indices()
    for step in range(3):
        micro = np.split(mine[step * 12:(step + 1) * 12], 3)
        before = guard._state.seq
        accumulate(micro, lambda idx: F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx]),
                                                      reduction="sum"), no_sync=model.no_sync)
        assert guard._state.seq - before == len(model.buckets) == 1, guard._state.seq - before
        opt.step()
        opt.zero_grad()


def check_compressor_hooks():
    """QSGD, TopK (error feedback) and FP16 as comm hooks: replicas bitwise equal, fewer bytes."""
    sent = {}
    compressors = {"dense": None, "qsgd": QSGD(levels=16, bucket_size=512, seed=rank),
                   "topk": TopK(ratio=0.1), "fp16": FP16()}
    for name, compressor in compressors.items():
        net = make_model(seed=7, width=512)
        model = dist.DistributedDataParallel(net, bucket_cap_mb=0.02)        # several buckets
        if compressor is not None:
            model.register_comm_hook(compressor, comm_hooks.compressor_hook)
        opt = optim.SGD(model.parameters(), lr=0.1)
        for step in range(2):
            idx = np.arange(step * 8, step * 8 + 8) + rank * 30
            F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
            opt.step()
            opt.zero_grad()
            assert bitwise_equal_on_all_ranks(net), f"{name}: replicas differ after step {step}"
        sent[name] = model.bytes_sent
    assert sorted(compressors["topk"].residuals) == list(range(len(model.buckets))), "one residual per bucket"
    assert 0 < sent["qsgd"] < sent["dense"] / 4, sent
    assert 0 < sent["topk"] < sent["dense"] / 2 and 0 < sent["fp16"] < sent["dense"], sent
    return sent


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk, self.sometimes, self.never = nn.Linear(D_IN, 2), nn.Linear(D_IN, 2), nn.Linear(D_IN, 2)

    def forward(self, x, use_branch):
        out = self.trunk(x)
        return out + self.sometimes(x) if use_branch else out


def check_find_unused_parameters():
    mg.manual_seed(9)
    model = dist.DistributedDataParallel(Branchy(), find_unused_parameters=True)
    x = mg.tensor(X[rank * 4:(rank + 1) * 4])
    model(x, use_branch=rank == 0).sum().backward()     # only rank 0 uses `sometimes`
    assert model.module.never.weight.grad is None       # no rank used it: left alone, as PyTorch
    mine = model.module.sometimes.weight.grad.data
    expected = X[0:4].sum(axis=0) * np.ones((2, 1)) / p  # rank 0's gradient, averaged over p
    assert np.allclose(mine, expected, rtol=1e-12), (mine, expected)


worst_one_bucket, n_buckets = train_and_compare(bucket_cap_mb=25)
worst_many, n_many = train_and_compare(bucket_cap_mb=0)          # one bucket per parameter
worst_hook, _ = train_and_compare(bucket_cap_mb=0, hook=comm_hooks.allreduce_hook)
assert (n_buckets, n_many) == (1, 4)
check_one_collective_per_step_with_accumulate()
sent = check_compressor_hooks()
check_find_unused_parameters()
if rank == 0:
    print(f"largest gap to big-batch SGD: {worst_one_bucket:.2e} (1 bucket), {worst_many:.2e} "
          f"(4 buckets), {worst_hook:.2e} (allreduce_hook); bytes sent per rank: {sent}", flush=True)
dist.barrier()
print(f"rank {rank}: ddp ok", flush=True)
