"""`mpiexec -n 5 python ps_async.py`: 2 servers, 3 workers, the last one slow; async then SSP (s = 1).

The gradients do not depend on the parameters, so what the servers end with is
known in closed form: with SGD at lr = 1, x_final = x_0 - (sum of every gradient
pushed), exactly (all numbers are small integers). Worker i (0..2) pushes

    a.grad = e_i (4,)                 so x0_a[i] - a[i] = gradients of worker i applied so far
    b.grad = (i + 1)(k + 1) * 1 (3,)  at its step k

Checks: every (worker, step) appears exactly once in each server's record and
the final parameters equal the closed form (each gradient applied exactly
once); in SSP mode the servers' recorded clock gaps never exceed s and reach
it, and every worker sees, in the parameters it pulls, that no worker still
running is more than s steps behind it; in async mode the fast workers do get
more than s ahead (so the SSP check is not vacuous).
"""
import time

import numpy as np

import minigrad as mg
from minigrad.distributed import ps
from minigrad.optim import SGD

STEPS, S = 10, 1


def run(mode, staleness):
    group = ps.Group(num_servers=2)
    a0, b0 = np.arange(4.0) * 100, np.full(3, 1000.0)
    a, b = mg.tensor(a0.copy(), requires_grad=True), mg.tensor(b0.copy(), requires_grad=True)
    W = group.num_workers
    if group.is_server:
        server = ps.ParameterServer(group, [a, b], lambda p: SGD(p, lr=1.0), mode=mode,
                                    staleness=staleness, timeout=60)
        record = server.run()
        pairs = sorted(zip(record["worker"].tolist(), record["step"].tolist()))
        assert pairs == [(w, k) for w in group.workers for k in range(STEPS)], pairs
        expected = np.concatenate([a0 - STEPS * (np.arange(4) < W),      # a straddles the servers
                                   b0 - sum((i + 1) * (k + 1) for i in range(W) for k in range(STEPS))])
        lo, hi = server.layout.shard(group.server_index)
        assert np.array_equal(server.state.flat, expected[lo:hi]), (server.state.flat, expected[lo:hi])
        assert (record["staleness"] >= 0).all() and (record["clock_gap"] >= 0).all()
        if mode == "ssp":
            assert record["clock_gap"].max() == staleness, record["clock_gap"]
        return record["clock_gap"].max()
    i = group.rank - group.num_servers
    worker = ps.Worker(group, [a, b], timeout=60)
    largest_lead = 0
    for k in range(STEPS):
        applied = (a0 - a.data)[:W]                # gradients of each worker applied so far (W,)
        running = [v for v in range(W) if applied[v] < STEPS]
        largest_lead = max([largest_lead] + [k - applied[v] for v in running])
        time.sleep(0.03 if i == W - 1 else 0.003)  # the last worker is 10x slower
        a.grad = mg.tensor(np.eye(4)[i])
        b.grad = mg.tensor(np.full(3, (i + 1) * (k + 1.0)))
        worker.step()
    worker.close()
    if mode == "ssp":
        assert largest_lead <= staleness, (i, largest_lead)
    elif i == 0:
        assert largest_lead > S, largest_lead      # without a bound, the fast run ahead
    return largest_lead


mg.set_default_dtype(np.float64)
lead_async = run("async", None)
lead_ssp = run("ssp", S)
import minigrad.distributed as dist  # noqa: E402
print(f"rank {dist.get_rank()}: async ok (largest lead: async {lead_async}, ssp {lead_ssp})", flush=True)
