"""How much of DDP's all-reduce hides behind the backward pass, on 2 ranks.

    python benchmarks/bench_ddp.py          # launches mpiexec -n 2 three times (progress modes below)
    mpiexec -n 2 python benchmarks/bench_ddp.py --worker

The model is an MLP of LAYERS Linear(D, D) + Tanh (float32), one bucket per
layer, sized so that backward and the all-reduce of its
gradients take similar times. Per step, the best of TRIALS trials of the
slowest rank's mean:

    compute   forward + backward with the forward inside ``no_sync`` (no communication)
    comm      ``ddp.sync_gradients()`` alone: every bucket all-reduced, nothing to overlap with
    ddp       forward + ``loss.backward()`` with DDP's hook-driven all-reduces
    hidden    (compute + comm - ddp) / comm: 1 = all communication hidden, 0 = none

Three ways to make MPI progress while backward computes, one run each:
"hooks only" (``MINIGRAD_PROGRESS_THREAD=0``: the transfers advance only when
DDP's hooks call ``MPI_Test``, once per parameter, and in the final wait),
"helper thread" (the default, ``distributed/progress.py``: ``MPI_Iprobe``
every 0.1 ms while buckets are in flight) and "MPICH thread"
(``MPIR_CVAR_ASYNC_PROGRESS=1``, MPICH's own progress thread, ours off).

What limits it here. (1) MPICH moves a message only inside an MPI call, see
above. (2) Between ranks on one machine MPI copies
through shared memory: the "communication" is CPU work (memcpy, and the sum of
the reduction) that competes with backward's matrix products for the same
cores. On a 2-core machine running 2 ranks there is no idle core for it, so
overlap can only fill the gaps; a progress thread adds a third and fourth
thread to two cores. With spare cores (or a NIC/GPU doing the copy, as NCCL)
the hidden fraction rises.
"""
import os
import subprocess
import sys
import time

import numpy as np

TRIALS, STEPS = int(os.environ.get("TRIALS", 5)), 3
D, LAYERS, BATCH = 1024, 4, int(os.environ.get("BATCH", 128))


def worker():
    import minigrad as mg
    import minigrad.distributed as dist
    from minigrad import nn
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    mg.manual_seed(0)
    layers = []
    for _ in range(LAYERS):
        layers += [nn.Linear(D, D), nn.Tanh()]
    model = dist.DistributedDataParallel(nn.Sequential(*layers), bucket_cap_mb=(D + 1) * D * 4 / 2**20)
    x = mg.tensor(np.random.default_rng(dist.get_rank()).standard_normal((BATCH, D)).astype(np.float32))

    def compute():
        with model.no_sync():
            loss = model(x).sum()
        loss.backward()

    def communicate():
        model.sync_gradients()

    def ddp_step():
        model(x).sum().backward()

    def timed(fn):
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(STEPS):
            fn()
        return comm.allreduce((time.perf_counter() - start) / STEPS, op=MPI.MAX)

    compute()                                                  # warm-up: .grad allocated
    times = {"compute": [], "comm": [], "ddp": []}
    for _ in range(TRIALS):
        times["compute"].append(timed(compute))
        times["comm"].append(timed(communicate))
        times["ddp"].append(timed(ddp_step))
    t = {k: min(v) for k, v in times.items()}
    model.timeline = []
    ddp_step()
    if dist.get_rank() == 0:
        hidden = (t["compute"] + t["comm"] - t["ddp"]) / t["comm"]
        progress = os.environ.get("MODE", "?")
        starts = [t0 for _, event, t0 in model.timeline if event == "start"]
        print(f"2 ranks, {LAYERS} x Linear({D}, {D}), batch {BATCH}, {len(model.buckets)} buckets, "
              f"progress by {progress}: compute {t['compute'] * 1e3:.1f} ms, "
              f"comm {t['comm'] * 1e3:.1f} ms, compute + comm {(t['compute'] + t['comm']) * 1e3:.1f} ms, "
              f"ddp {t['ddp'] * 1e3:.1f} ms -> hidden {hidden:.2f} of the communication "
              f"(bucket starts spread over {(max(starts) - min(starts)) * 1e3:.1f} ms of backward)",
              flush=True)


MODES = {"hooks only": {"MINIGRAD_PROGRESS_THREAD": "0"},
         "helper thread": {"MINIGRAD_PROGRESS_THREAD": "1"},
         "MPICH thread": {"MINIGRAD_PROGRESS_THREAD": "0", "MPIR_CVAR_ASYNC_PROGRESS": "1"}}


def main():
    bin_dir = os.path.dirname(sys.executable)
    for mode, settings in MODES.items():
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MODE=mode, **settings)
        subprocess.run(["mpiexec", "-n", "2", sys.executable, os.path.abspath(__file__), "--worker"],
                       env=env, check=True, timeout=600)


if __name__ == "__main__":
    worker() if "--worker" in sys.argv else main()
