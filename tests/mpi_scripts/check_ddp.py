"""Run under `mpiexec -n p`: DistributedDataParallel equals single-process big-batch SGD.

Every rank trains a DDP replica for 20 steps (2 epochs of 10; gradient
accumulation over K micro-batches with no_sync, global-norm clipping, SGD with
momentum and weight decay, float64). Every rank also trains, alone, the
single-process reference on the concatenated global batch. Checks after every
step: parameters bitwise equal on all ranks, and equal to the reference to
1e-10. Then the compressed path (QSGD): replicas bitwise equal, fewer bytes.
Prints "rank r: ddp ok".
"""
import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.compress import QSGD
from minigrad.nn.utils import clip_grad_norm_

mg.set_default_dtype(np.float64)
p, rank = dist.get_world_size(), dist.get_rank()
D_IN, HIDDEN, CLASSES = 6, 16, 3
MICRO, K, STEPS_PER_EPOCH, EPOCHS, CLIP = 4, 2, 10, 2, 0.5
N = STEPS_PER_EPOCH * p * K * MICRO

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


def train_and_compare(bucket_cap_mb):
    net = make_model(seed=100 + rank)                    # different on every rank...
    ddp = dist.DistributedDataParallel(net, bucket_cap_mb=bucket_cap_mb)
    reference = make_model(seed=100)                     # ...until DDP copies rank 0's
    assert np.array_equal(flat_params(net), flat_params(reference)), "initial broadcast"
    opt = optim.SGD(ddp.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    ref_opt = optim.SGD(reference.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    sampler = dist.DistributedSampler(N, shuffle=True, seed=3)
    clipped, worst = 0, 0.0
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        mine = sampler.indices()
        for step in range(STEPS_PER_EPOCH):
            batch = mine[step * K * MICRO:(step + 1) * K * MICRO]
            micro_batches = np.split(batch, K)
            sent_before = ddp.bytes_sent
            with ddp.no_sync():                          # accumulate K-1 micro-batches locally
                for idx in micro_batches[:-1]:
                    ddp.backward(F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])) / K)
            assert ddp.bytes_sent == sent_before, "no_sync must not communicate"
            idx = micro_batches[-1]                      # the last one averages across ranks
            ddp.backward(F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])) / K)
            assert ddp.bytes_sent > sent_before
            norm = clip_grad_norm_(ddp.parameters(), CLIP)
            clipped += float(norm.item()) > CLIP
            opt.step()
            opt.zero_grad()

            everything = sampler.global_batch(step, K * MICRO)          # p*K*MICRO examples
            loss = F.cross_entropy(reference(mg.tensor(X[everything])), mg.tensor(y[everything]))
            loss.backward()
            ref_norm = clip_grad_norm_(reference.parameters(), CLIP)
            ref_opt.step()
            ref_opt.zero_grad()

            assert bitwise_equal_on_all_ranks(net), f"replicas differ after epoch {epoch} step {step}"
            gap = np.abs(flat_params(net) - flat_params(reference)).max()
            assert gap <= 1e-10, f"DDP vs big-batch SGD: {gap:.3e} after epoch {epoch} step {step}"
            assert abs(norm.item() - ref_norm.item()) <= 1e-10 * ref_norm.item()
            worst = max(worst, gap)
    assert clipped > 0, "the clipping path was never taken"
    return worst, len(ddp.buckets)


def check_compressed():
    """QSGD aggregation: replicas stay bitwise equal and fewer bytes leave each rank."""
    sent = {}
    for name, compressor in (("dense", None), ("qsgd", QSGD(levels=16, bucket_size=512, seed=rank))):
        net = make_model(seed=7, width=512)
        ddp = dist.DistributedDataParallel(net, compressor=compressor)
        opt = optim.SGD(ddp.parameters(), lr=0.1)
        for step in range(3):
            idx = np.arange(step * 8, step * 8 + 8) + rank * 30
            ddp.backward(F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])))
            opt.step()
            opt.zero_grad()
            assert bitwise_equal_on_all_ranks(net), f"{name}: replicas differ after step {step}"
        sent[name] = ddp.bytes_sent
    assert 0 < sent["qsgd"] < sent["dense"] / 4, sent
    return sent


worst_one_bucket, n_buckets = train_and_compare(bucket_cap_mb=25)
worst_many, n_many = train_and_compare(bucket_cap_mb=0)          # one bucket per parameter
assert (n_buckets, n_many) == (1, 4)
sent = check_compressed()
if rank == 0:
    print(f"largest gap to big-batch SGD: {worst_one_bucket:.2e} (1 bucket), "
          f"{worst_many:.2e} (4 buckets); bytes sent per rank: {sent}", flush=True)
dist.barrier()
print(f"rank {rank}: ddp ok", flush=True)
