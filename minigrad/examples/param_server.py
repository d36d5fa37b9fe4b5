"""Training through a parameter server over MPI: synchronous, asynchronous (Downpour) or SSP.

    mpiexec -n 5 python -m minigrad.examples.param_server --servers 1 --mode async --straggler
    mpiexec -n 5 python -m minigrad.examples.param_server --mode sync --straggler
    mpiexec -n 5 python -m minigrad.examples.param_server --mode ssp --staleness 3 --straggler random
    mpiexec -n 6 python -m minigrad.examples.param_server --servers 2 --mode async

Ranks 0..S-1 serve (``--servers``), the others are workers. Every worker fits
the same small MLP (float64) to its own shard of a synthetic regression data
set, one mini-batch per step; a step also "computes" for ``--compute-ms``
milliseconds (a sleep standing for a bigger model's forward and backward
pass, so the timing does not depend on how busy the machine's cores are).
``--straggler`` (or ``--straggler one``) makes the last worker take twice as
long every step; ``--straggler random`` makes a different, random worker twice
as slow at each step. A progress bar runs on server 0; at the end it reports
the staleness of the applied gradients and the loss on the whole data set.

Learning rate. In sync mode one update averages all W workers' gradients; in
async and SSP modes every gradient is an update of its own. ``--lr`` is the
rate for an averaged update, so the other modes use lr / W per gradient: the
same step per example seen, as the linear scaling rule would have it (Goyal et
al. 2017, "Accurate, Large Minibatch SGD", Sec. 2.1).
"""
import argparse
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.distributed import ps
from minigrad.distributed.ps.sharding import flatten, load_flat
from minigrad.optim import SGD


def synthetic_regression(n=2048, features=16, seed=0):
    """Gaussian inputs; targets from a random one-hidden-layer 'teacher' plus a little noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))                          # (n, features)
    W1, w2 = rng.standard_normal((features, 8)) / 4, rng.standard_normal((8, 1))
    y = np.tanh(X @ W1) @ w2 + 0.05 * rng.standard_normal((n, 1))   # (n, 1)
    return X, y


def make_model(features=16, hidden=32):
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def full_loss(model, flat, X, y):
    """The mean squared error on (X, y) of ``model`` with its parameters set to ``flat``."""
    params = list(model.parameters())
    load_flat(params, flat, ps.FlatLayout([p.shape for p in params], 1))
    with mg.no_grad():
        return F.mse_loss(model(mg.tensor(X)), mg.tensor(y)).item()


def slow_factor(straggler, worker, num_workers, step, factor=2.0):
    """How many times longer than usual worker ``worker`` (0..W-1) takes at ``step``."""
    if straggler == "one":
        return factor if worker == num_workers - 1 else 1.0
    if straggler == "random":                  # the same draw on every worker: one slow worker per step
        return factor if np.random.default_rng(step).integers(num_workers) == worker else 1.0
    return 1.0


def train(group, mode, steps, lr, staleness=None, batch=32, compute_s=0.01, straggler="none",
          progress=False, timeout=None):
    """One training run; the same call on every rank.

    Server ranks return ``{"record", "times", "params", "seconds"}``: the staleness
    record, and after every update its time (s since the start) and this
    server's parameter range. Workers return ``{"seconds"}``.
    """
    X, y = synthetic_regression()
    model = make_model(X.shape[1])
    W = group.num_workers
    per_gradient_lr = lr if mode == "sync" else lr / W
    group.barrier(timeout)                    # start the clocks together
    start = time.perf_counter()
    if group.is_server:
        server = ps.ParameterServer(group, model.parameters(), lambda p: SGD(p, lr=per_gradient_lr),
                                    mode=mode, staleness=staleness, timeout=timeout)
        times, params = [0.0], [server.state.flat.copy()]
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=steps * (1 if mode == "sync" else W), desc=f"{mode} server", unit="upd")

        def on_update(state):
            times.append(time.perf_counter() - start)
            params.append(state.flat.copy())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(staleness=state.records[-1][4], refresh=False)

        record = server.run(on_update)
        if bar is not None:
            bar.close()
        return {"record": record, "times": np.array(times), "params": np.array(params),
                "seconds": time.perf_counter() - start}
    i = group.rank - group.num_servers
    mine = np.arange(i, len(X), W)                                 # this worker's shard
    rng = np.random.default_rng(100 + i)
    worker = ps.Worker(group, model.parameters(), timeout=timeout)
    for step in range(steps):
        idx = rng.choice(mine, batch, replace=False)
        model.zero_grad()
        F.mse_loss(model(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
        time.sleep(compute_s * slow_factor(straggler, i, W, step))
        worker.step()
    worker.close()
    return {"seconds": time.perf_counter() - start}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--mode", choices=ps.MODES, default="async")
    parser.add_argument("--staleness", type=int, default=3, help="s for --mode ssp")
    parser.add_argument("--straggler", nargs="?", const="one", default="none",
                        choices=["none", "one", "random"])
    parser.add_argument("--steps", type=int, default=150, help="steps per worker")
    parser.add_argument("--lr", type=float, default=0.2, help="lr of an update averaged over all workers")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--compute-ms", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=None, help="seconds (default 600)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mg.set_default_dtype(np.float64)
    group = ps.Group(args.servers)
    result = train(group, args.mode, args.steps, args.lr,
                   staleness=args.staleness if args.mode == "ssp" else None, batch=args.batch,
                   compute_s=args.compute_ms / 1000, straggler=args.straggler,
                   progress=group.rank == 0, timeout=args.timeout)
    if not group.is_server:
        return result
    shards = group.local.gather([result["params"][0], result["params"][-1]], root=0)
    records = group.local.gather(result["record"], root=0)
    if group.rank == 0:
        first, last = (flatten([s[j] for s in shards], np.float64) for j in (0, 1))
        report(args, group, result, records, first, last)
    return result


def report(args, group, result, records, first, last):
    X, y = synthetic_regression()
    model = make_model(X.shape[1])
    record = records[0]
    staleness, gap = record["staleness"], record["clock_gap"]
    slow = {"none": "none", "one": f"worker rank {group.workers[-1]} 2x slower every step",
            "random": "a random worker 2x slower at each step"}[args.straggler]
    print(f"\nmode {args.mode}{f' (s = {args.staleness})' if args.mode == 'ssp' else ''}, "
          f"{group.num_servers} server(s), {group.num_workers} workers x {args.steps} steps, "
          f"straggler: {slow}")
    updates = len(result["times"]) - 1
    print(f"server 0 applied {updates} updates ({len(staleness)} gradients) in {result['seconds']:.2f} s "
          f"= {updates / result['seconds']:.0f} updates/s")
    print(f"staleness (updates applied between a gradient's read and its apply): mean "
          f"{staleness.mean():.2f}, max {staleness.max()}")
    for w in group.workers:
        mine = record["worker"] == w
        print(f"  worker rank {w}: mean staleness {staleness[mine].mean():.2f}, max {staleness[mine].max()}, "
              f"largest lead over the slowest worker {gap[mine].max()} steps")
    print(f"loss on all {len(X)} examples: {full_loss(model, first, X, y):.4f} at the start, "
          f"{full_loss(model, last, X, y):.4f} at the end")


if __name__ == "__main__":
    main()
