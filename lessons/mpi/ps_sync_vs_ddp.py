"""`mpiexec -n 4 python ps_sync_vs_ddp.py`: one model trained three ways on the same global batches.

1. a synchronous parameter server: rank 0 serves, ranks 1-3 each push the gradient of their third
   of every global batch and pull the new parameters;
2. DDP-style data parallelism: ranks 1-3 average their gradients with one MPI Allreduce and each
   takes the same SGD step locally (rank 0 sits this one out);
3. one process, the whole global batch at once (on rank 1).

Rank 1 prints, as JSON on its last line, the largest parameter differences between the three.
"""
import json

import numpy as np
from mpi4py import MPI

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.distributed import ps
from minigrad.distributed.ps.sharding import flat_gradients, flat_parameters, load_flat
from minigrad.examples.param_server import full_loss, make_model, synthetic_regression
from minigrad.optim import SGD

STEPS, BATCH, LR = 30, 16, 0.1
mg.set_default_dtype(np.float64)
group = ps.Group(num_servers=1)
X, y = synthetic_regression()
W = group.num_workers
order = np.random.default_rng(0).permutation(len(X))
batches = order[:STEPS * W * BATCH].reshape(STEPS, W * BATCH)     # (steps, global batch)
optimizer = lambda params: SGD(params, lr=LR, momentum=0.9)       # noqa: E731


def loss_step(model, rows):
    model.zero_grad()
    F.mse_loss(model(mg.tensor(X[rows])), mg.tensor(y[rows])).backward()


# 1. parameter server, sync mode
ps_model = make_model()
if group.is_server:
    ps.ParameterServer(group, ps_model.parameters(), optimizer, mode="sync", timeout=60).run()
else:
    i = group.rank - group.num_servers
    worker = ps.Worker(group, ps_model.parameters(), timeout=60)
    for t in range(STEPS):
        loss_step(ps_model, batches[t, i * BATCH:(i + 1) * BATCH])
        worker.step()
    worker.close()

    # 2. DDP-style: all-reduce the flat gradient among the workers, then the same local step
    ddp_model = make_model()
    params = list(ddp_model.parameters())
    layout = ps.FlatLayout([p.shape for p in params], 1)
    local_opt = optimizer(params)
    for t in range(STEPS):
        loss_step(ddp_model, batches[t, i * BATCH:(i + 1) * BATCH])
        grad = flat_gradients(params)
        group.local.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
        load_flat([p.grad for p in params], grad / W, layout)
        local_opt.step()

    # 3. one process, whole batches
    if group.rank == 1:
        big_model = make_model()
        big_opt = optimizer(list(big_model.parameters()))
        for t in range(STEPS):
            loss_step(big_model, batches[t])
            big_opt.step()
        flats = {name: flat_parameters(list(m.parameters()))
                 for name, m in [("ps", ps_model), ("ddp", ddp_model), ("big", big_model)]}
        start = flat_parameters(list(make_model().parameters()))
        gap = lambda a, b: float(np.abs(flats[a] - flats[b]).max())     # noqa: E731
        print(json.dumps({"ps_vs_big": gap("ps", "big"), "ddp_vs_big": gap("ddp", "big"),
                          "ps_vs_ddp": gap("ps", "ddp"), "moved": float(np.abs(flats["big"] - start).max()),
                          "loss_start": full_loss(make_model(), start, X, y),
                          "loss_end": full_loss(make_model(), flats["big"], X, y)}), flush=True)
