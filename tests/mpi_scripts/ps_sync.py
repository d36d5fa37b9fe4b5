"""`mpiexec -n 4 python ps_sync.py`: synchronous parameter server == single-process big-batch training.

Two runs in one launch: 1 server + 3 workers with SGD (momentum, weight decay),
then 2 servers + 2 workers with Adam (a parameter straddles the two servers'
ranges). Each worker takes its own b rows of every global batch; afterwards
each worker trains the same model alone on the whole global batches and its
parameters must agree to 1e-12 (float64). Every rank prints "rank r: sync ok".
"""
import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.distributed import ps
from minigrad.optim import SGD, Adam

STEPS, BATCH = 6, 4                                 # per worker


def make_model():
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def data(num_workers):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((STEPS, num_workers * BATCH, 5))      # (steps, global batch, features)
    y = rng.standard_normal((STEPS, num_workers * BATCH, 3))
    return X, y


def check(num_servers, optimizer):
    group = ps.Group(num_servers)
    model = make_model()
    W = group.num_workers
    X, y = data(W)
    if group.is_server:
        record = ps.ParameterServer(group, model.parameters(), optimizer, mode="sync", timeout=60).run()
        assert (record["staleness"] == 0).all() and len(record["worker"]) == STEPS * W, record
        return
    worker = ps.Worker(group, model.parameters(), timeout=60)
    mine = slice((group.rank - num_servers) * BATCH, (group.rank - num_servers + 1) * BATCH)
    for t in range(STEPS):
        model.zero_grad()
        F.mse_loss(model(mg.tensor(X[t, mine])), mg.tensor(y[t, mine])).backward()
        worker.step()
    worker.close()

    alone = make_model()                             # the reference: one process, whole batches
    opt = optimizer(list(alone.parameters()))
    for t in range(STEPS):
        opt.zero_grad()
        F.mse_loss(alone(mg.tensor(X[t])), mg.tensor(y[t])).backward()
        opt.step()
    gap = max(np.abs(a.data - b.data).max() for a, b in zip(model.parameters(), alone.parameters()))
    moved = max(np.abs(a.data - b.data).max() for a, b in zip(alone.parameters(), make_model().parameters()))
    assert gap < 1e-12 and moved > 1e-3, (num_servers, gap, moved)


mg.set_default_dtype(np.float64)
check(1, lambda params: SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3))
check(2, lambda params: Adam(params, lr=0.01))
import minigrad.distributed as dist  # noqa: E402
print(f"rank {dist.get_rank()}: sync ok", flush=True)
