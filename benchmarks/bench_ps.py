"""Parameter server throughput against plain all-reduce data parallelism, and straggler time-to-loss.

    python benchmarks/bench_ps.py                  # launches mpiexec -n 5 and -n 6 itself
    mpiexec -n 5 python benchmarks/bench_ps.py --servers 1 --worker

Part 1 (4 workers; 1 server with -n 5, 2 servers with -n 6). Every worker
trains the same MLP (784-256-256-10, 270k float32 parameters, batch 32) for
STEPS steps, as fast as it can:

* ``ps sync`` / ``ps async``: through the parameter server. Printed: the
  server's updates/s (server 0), and the workers' gradients/s (all together);
* ``all-reduce``: the peer, measured in the same launch on the same 4 workers:
  each step all-reduces the flat gradient with mpi4py's ``Allreduce`` (what
  DDP does, without buckets) and steps locally. Its gradients/s is 4 x steps/s.

The ratio column is gradients/s over the peer's. A server receives and sends
W full messages per round where the all-reduce moves ~2N per rank, so on a
network the server is the bottleneck and more servers help. On one small
machine with more processes than cores another cost dominates: MPICH's
blocking ``Allreduce`` spins while it waits for the slowest rank, taking CPU
from the ranks still computing, while the parameter server's waits sleep
between polls (``ps/protocol.py``). The second peer, ``Iallreduce`` polled
with sleeps, shows how much of the gap that is. Ranks that finish a phase wait
in a sleeping barrier, so no side is slowed by idle ranks.

Part 2 (-n 5, 1 server): the example's MLP regression with 10 ms of simulated
compute per step and one worker 2x slower (``minigrad.examples.param_server``);
the time each mode takes to first reach the loss 0.12, and sync's time over
it (the speed-up).

Noise: with 5-6 processes on a 2-core machine, timings move 2x between runs;
the ratios within one run are what to read.
"""
import os
import subprocess
import sys
import time

import numpy as np

STEPS = 60


def throughput(servers):
    from mpi4py import MPI

    import minigrad as mg
    import minigrad.nn as nn
    import minigrad.nn.functional as F
    from minigrad.distributed import ps
    from minigrad.distributed.ps.sharding import flat_gradients, load_flat
    from minigrad.optim import SGD

    group = ps.Group(servers)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 784)).astype(np.float32)      # (batch, features)
    y = rng.integers(0, 10, 32)
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    params = list(model.parameters())

    def gradient():
        model.zero_grad()
        F.cross_entropy(model(mg.tensor(X)), mg.tensor(y)).backward()

    rows = {}
    for mode in ("sync", "async"):
        group.barrier()
        start = time.perf_counter()
        if group.is_server:
            server = ps.ParameterServer(group, params, lambda p: SGD(p, lr=0.01), mode=mode, timeout=300)
            server.run()
            count = server.state.version
        else:
            worker = ps.Worker(group, params, timeout=300)
            for _ in range(STEPS):
                gradient()
                worker.step()
            worker.close()
            count = STEPS
        seconds = time.perf_counter() - start
        group.barrier()
        rows[mode] = group.comm.gather((group.is_server, count, seconds), root=0)

    peers = {}                                 # the peers: all-reduce data parallelism on the workers
    for peer in ("all-reduce", "all-reduce, sleeping poll"):
        group.barrier()
        seconds = 0.0
        if not group.is_server:
            layout = ps.FlatLayout([p.shape for p in params], 1)
            opt = SGD(params, lr=0.01)
            start = time.perf_counter()
            for _ in range(STEPS):
                gradient()
                grad = flat_gradients(params)
                if peer == "all-reduce":
                    group.local.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
                else:
                    request = group.local.Iallreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
                    while not request.Test():
                        time.sleep(1e-4)
                load_flat([p.grad for p in params], grad / group.num_workers, layout)
                opt.step()
            seconds = time.perf_counter() - start
        group.barrier()              # the server sleeps meanwhile
        peers[peer] = group.comm.gather((group.is_server, STEPS, seconds), root=0)
    if group.rank == 0:
        rate = {name: group.num_workers * STEPS / max(s for server, _, s in table if not server)
                for name, table in peers.items()}
        peer_rate = rate["all-reduce"]
        n = sum(p.data.size for p in params)
        print(f"\n{servers} server(s), {group.num_workers} workers, {n:,} float32 parameters, "
              f"{STEPS} steps per worker")
        print(f"{'way':>25} | {'server 0 updates/s':>18} | {'worker gradients/s':>18} | ratio vs all-reduce")
        for mode, table in rows.items():
            updates = table[0][1] / table[0][2]
            gradients = group.num_workers * STEPS / max(s for server, _, s in table if not server)
            print(f"{'ps ' + mode:>25} | {updates:18.1f} | {gradients:18.1f} | {gradients / peer_rate:.2f}")
        for name, r in rate.items():
            print(f"{name:>25} | {'':>18} | {r:18.1f} | {r / peer_rate:.2f}")
        sys.stdout.flush()


def time_to_loss():
    import minigrad as mg
    from minigrad.distributed import ps
    from minigrad.examples.param_server import full_loss, make_model, synthetic_regression, train

    mg.set_default_dtype(np.float64)
    group = ps.Group(1)
    X, y = synthetic_regression()
    model = make_model()
    seconds = {}
    for mode, s in (("sync", None), ("async", None), ("ssp", 3)):
        out = train(group, mode, 80, lr=0.2, staleness=s, compute_s=0.01, straggler="one", timeout=300)
        if group.rank == 0:
            losses = np.array([full_loss(model, p, X, y) for p in out["params"]])
            reached = np.flatnonzero(losses <= 0.12)
            seconds[mode] = out["times"][reached[0]] if reached.size else np.inf
    if group.rank == 0:
        print("\nstraggler (one worker of 4 2x slower), time to loss 0.12:")
        for mode, t in seconds.items():
            print(f"{mode:>6}: {t:6.2f} s   speed-up over sync {seconds['sync'] / t:5.2f}x")
        sys.stdout.flush()


def main():
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    script = os.path.abspath(__file__)
    for p, servers in ((5, 1), (6, 2)):
        subprocess.run(["mpiexec", "-n", str(p), sys.executable, script, "--servers", str(servers),
                        "--worker"], env=env, check=True, timeout=600)
    subprocess.run(["mpiexec", "-n", "5", sys.executable, script, "--time-to-loss"], env=env,
                   check=True, timeout=600)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        throughput(int(sys.argv[sys.argv.index("--servers") + 1]))
    elif "--time-to-loss" in sys.argv:
        time_to_loss()
    else:
        main()
