"""Run under `mpiexec -n p python faults_more.py SCENARIO`: more of what users do wrong or what goes wrong.

The second set of fault scenarios (the first is faults.py): kills and signals
in the middle of a collective or of DDP's backward, ranks that leave early or
stay late, errors in forwards and comm hooks, mismatched calls, MPI_Finalize
by hand, failures before ``import minigrad.distributed``. tests/test_distributed_faults.py
runs each with MINIGRAD_COLLECTIVE_TIMEOUT set short and checks that every rank
is gone, non-zero, within 30 s, and that the output names the rank and cause.
The scenarios after "these must end cleanly" end with every rank printing "rank r: finished".
"""
import os
import signal
import sys
import threading
import time

import numpy as np

scenario = sys.argv[1]
launcher_rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
if scenario == "raise_before_import" and launcher_rank == 1:     # MPI is not even initialised here
    raise RuntimeError("deliberate failure on rank 1 before importing minigrad.distributed")
if scenario == "exit_0_before_import" and launcher_rank == 1:
    sys.exit(0)

import minigrad as mg                                            # noqa: E402
import minigrad.distributed as dist                              # noqa: E402
import minigrad.nn.functional as F                               # noqa: E402
from minigrad import nn                                          # noqa: E402

rank, p = dist.get_rank(), dist.get_world_size()


def model(hidden=8, bucket_cap_mb=0):
    mg.manual_seed(0)
    return dist.DistributedDataParallel(nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 2)),
                                        bucket_cap_mb=bucket_cap_mb)


def train_step(ddp, in_backward=None):
    """One forward and backward; ``in_backward()`` runs when backward reaches the first layer's output."""
    x = mg.tensor(np.full((3, 4), float(rank + 1), dtype=np.float32))
    hidden = ddp.module[0](x)                                  # (3, hidden), by hand to hook it
    if in_backward is not None:
        hidden.register_hook(lambda grad: in_backward())       # the last layer's buckets are in flight
    F.mse_loss(ddp.module[2](ddp.module[1](hidden)), mg.zeros(3, 2)).backward()


def kill_self(signum):
    os.kill(os.getpid(), signum)


def all_reduce_forever():
    for _ in range(10**6):
        dist.all_reduce(np.ones(1000, dtype=np.float32))


if scenario in ("sigkill_mid_all_reduce", "sigterm_mid_all_reduce", "sigint_mid_all_reduce"):
    if rank == 1:                                              # fires while the loop is in all_reduce
        signum = {"sigkill": signal.SIGKILL, "sigterm": signal.SIGTERM, "sigint": signal.SIGINT}
        threading.Timer(0.5, kill_self, [signum[scenario.split("_")[0]]]).start()
    all_reduce_forever()
elif scenario in ("sigkill_mid_backward", "sigterm_mid_backward"):
    ddp = model()
    signum = signal.SIGKILL if scenario.startswith("sigkill") else signal.SIGTERM
    train_step(ddp, in_backward=(lambda: kill_self(signum)) if rank == 1 else None)
elif scenario == "os_exit_0":                                  # no atexit, no excepthook: just gone
    if rank == 1:
        os._exit(0)
    dist.all_reduce(np.ones(10))
elif scenario == "return_early":                               # main() returns on one rank only
    def main():
        if rank == 1:
            return
        for _ in range(3):
            dist.all_reduce(np.ones(1000, dtype=np.float32))
    main()
elif scenario == "extra_call_after_others_finished":           # the last rank keeps going
    if rank == p - 1:
        dist.all_reduce(np.ones(5))
elif scenario == "keyboard_interrupt":
    if rank == 1:
        raise KeyboardInterrupt
    dist.all_reduce(np.ones(10))
elif scenario == "comm_hook_raises":
    ddp = model()

    def hook(state, bucket):
        if rank == 1 and bucket.index() == 1:
            raise ValueError("deliberate failure in the comm hook on rank 1")
        return dist.all_reduce(bucket.buffer(), op="mean", async_op=True).get_future(bucket.buffer()).then(
            lambda fut: fut.value()[0])
    ddp.register_comm_hook(None, hook)
    train_step(ddp)
elif scenario == "comm_hook_raises_caught":                  # the program skips the batch and goes on
    ddp = model()

    def hook(state, bucket):
        if rank == 1 and bucket.index() == 1 and not state:
            state.append("failed once")
            raise ValueError("deliberate failure in the comm hook on rank 1")
        return dist.all_reduce(bucket.buffer(), op="mean", async_op=True).get_future(bucket.buffer()).then(
            lambda fut: fut.value()[0])
    ddp.register_comm_hook([], hook)
    for step in range(3):
        try:
            train_step(ddp)
        except ValueError as err:
            print(f"rank {rank}: skipping a batch after {err}", flush=True)
elif scenario == "sys_exit_in_hook":
    ddp = model()

    def hook(state, bucket):
        if rank == 1 and bucket.index() == 2:
            sys.exit(0)
        return dist.all_reduce(bucket.buffer(), op="mean", async_op=True).get_future(bucket.buffer()).then(
            lambda fut: fut.value()[0])
    ddp.register_comm_hook(None, hook)
    train_step(ddp)
elif scenario == "sigint_mid_ring":                          # a large all_reduce goes to the ring
    big = np.ones(10**6, dtype=np.float32)
    dist.all_reduce(big)
    if rank == 1:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    for _ in range(200):
        dist.all_reduce(big)
elif scenario == "forward_raises":
    ddp = model()
    train_step(ddp)
    if rank == 1:
        raise FloatingPointError("deliberate failure in forward on rank 1")
    train_step(ddp)
elif scenario == "different_model_sizes":
    model(hidden=8 + rank)
elif scenario == "broadcast_src_out_of_range":
    dist.broadcast(np.ones(4), src=p)
elif scenario == "broadcast_src_differs":
    dist.broadcast(np.ones(4), src=rank)
elif scenario == "dtype_mismatch":
    dist.all_reduce(np.ones(10, dtype=np.float32 if rank == 0 else np.float64))
elif scenario == "shape_mismatch":                             # same ndim, other sizes
    dist.all_reduce(np.ones((3, 4 + rank), dtype=np.float32))
elif scenario == "op_mismatch":
    dist.all_reduce(np.ones(10), op="sum" if rank == 0 else "max")
elif scenario == "op_sum_vs_min":                              # MIN negates the header: a harder pair
    dist.all_reduce(np.ones(10), op="sum" if rank == 0 else "min")
elif scenario == "barrier_one_rank":
    if rank == 0:
        dist.barrier()
elif scenario == "barrier_vs_all_reduce":
    dist.barrier() if rank == 0 else dist.all_reduce(np.ones(10))
elif scenario in ("raise_before_import", "exit_0_before_import"):
    dist.all_reduce(np.ones(10))                               # rank 1 never joined MPI
elif scenario == "raise_after_finalize":
    from mpi4py import MPI
    dist.barrier()
    MPI.Finalize()
    if rank == 1:
        raise RuntimeError("deliberate failure on rank 1 after MPI.Finalize")
    time.sleep(2)
elif scenario == "collective_after_finalize":
    from mpi4py import MPI
    MPI.Finalize()
    dist.all_reduce(np.ones(3))
elif scenario == "stuck_rank_env_timeout":                     # MINIGRAD_COLLECTIVE_TIMEOUT=2 set by the test
    if rank == 1:
        time.sleep(60)
    dist.all_reduce(np.ones(10))
# ---- FINE: these must end cleanly -----------------------------------------------------
elif scenario == "init_twice":
    dist.init()
    dist.init()
    dist.all_reduce(np.ones(3))
elif scenario == "finalize_at_end":                            # some scripts end with MPI.Finalize()
    from mpi4py import MPI
    dist.all_reduce(np.ones(3))
    dist.barrier()
    print(f"rank {rank}: finished", flush=True)
    MPI.Finalize()
    sys.exit(0)
elif scenario == "slow_rank_at_end":                           # uneven work after the last collective
    dist.all_reduce(np.ones(3))
    if rank == 1:
        time.sleep(1.5)
else:
    raise SystemExit(f"unknown scenario {scenario!r}")
print(f"rank {rank}: finished", flush=True)
