"""Run under `mpiexec -n 4`: the demo MLP trained with QSGD (s=16, d=512) and without compression.

    mpiexec -n 4 python check_qsgd_training.py [epochs] [seed]

Both runs use `minigrad.examples.ddp_mlp` as it is: its data, its model (the
same initial parameters), its optimizer and learning rate, the same batches in
the same order. The only difference is the compressor; QSGD draws rank r's
rounding from seed + r (independent streams, see compress/qsgd.py).

Checked here, after every step of both runs: the parameters are bitwise equal
on all ranks. Rank 0 then prints one line "result: {json}" that the test reads:
the initial and final full-data losses, the bytes each rank sent, and two
independent byte counts (the closed-form count of a dense ring all-reduce,
2 (p-1)/p * bytes per sync per rank, and the real sizes of the QSGD payloads).
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad.compress import QSGD
from minigrad.distributed.comm_hooks import compressor_hook
from minigrad.examples.ddp_mlp import Run, loss_on, make_model, parse_args, synthetic_data

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


class PayloadSizes(QSGD):
    """QSGD that also notes the size of every payload it produces."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sizes = []

    def compress(self, x, key=None):
        payload = super().compress(x, key)
        self.sizes.append(payload.nbytes)
        return payload


def flat_params(model):
    return np.concatenate([q.data.reshape(-1) for q in model.parameters()])


def assert_replicas_bitwise_equal(model, where):
    mine = flat_params(model)
    for r, other in enumerate(dist.all_gather(mine)):
        assert np.array_equal(mine.view(np.uint64), other.view(np.uint64)), \
            f"{where}: rank {dist.get_rank()} and rank {r} hold different parameters"


def train(name, compressor, args, X, y):
    """The loop of ddp_mlp.main (one micro-batch per step), with the replica check every step."""
    p = dist.get_world_size()
    net = make_model(X.shape[1], args.hidden, int(y.max()) + 1)
    ddp = dist.DistributedDataParallel(net)
    if compressor is not None:
        ddp.register_comm_hook(compressor, compressor_hook)
    run = Run(ddp, args, p * args.batch, ddp.parameters())
    sampler = dist.DistributedSampler(len(X), shuffle=True, seed=1)
    steps_per_epoch = len(sampler) // args.batch
    initial_loss = loss_on(net, X, y)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        mine = sampler.indices()
        for step in range(steps_per_epoch):
            idx = mine[step * args.batch:(step + 1) * args.batch]
            F.cross_entropy(ddp(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
            run.finish_step(ddp.parameters())
            assert_replicas_bitwise_equal(net, f"{name}, epoch {epoch} step {step}")
    syncs = args.epochs * steps_per_epoch
    coordinates = sum(q.numel() for q in ddp.parameters())
    itemsize = next(iter(ddp.parameters())).data.itemsize
    return {"initial_loss": initial_loss, "final_loss": loss_on(net, X, y), "syncs": syncs,
            "bytes_sent": [int(b[0]) for b in dist.all_gather(np.array([ddp.bytes_sent]))],
            "ring_bytes_per_rank": syncs * 2 * (p - 1) / p * coordinates * itemsize}


def main():
    mg.set_default_dtype(np.float64)                # as the demo does
    args = parse_args(["--epochs", str(EPOCHS)])     # the demo's defaults otherwise
    X, y = synthetic_data()
    rank = dist.get_rank()
    dense = train("dense", None, args, X, y)
    qsgd_compressor = PayloadSizes(levels=16, bucket_size=512, seed=SEED + rank)
    qsgd = train("qsgd", qsgd_compressor, args, X, y)
    sizes = dist.all_gather(np.array(qsgd_compressor.sizes, dtype=np.int64))
    qsgd["payload_bytes_per_rank"] = [int(s.sum()) for s in sizes]
    if rank == 0:
        print("result: " + json.dumps({"ranks": dist.get_world_size(), "epochs": EPOCHS,
                                       "dense": dense, "qsgd": qsgd}), flush=True)
    dist.barrier()
    print(f"rank {rank}: qsgd training ok", flush=True)


main()
