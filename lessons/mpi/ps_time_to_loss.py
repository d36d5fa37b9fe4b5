"""`mpiexec -n 5 python ps_time_to_loss.py STEPS`: 1 server, 4 workers; loss against time per mode.

For two kinds of straggler ("one": the last worker is 2x slower at every step;
"random": at each step one random worker is 2x slower) and each mode (sync,
async, SSP with s = 3), train the example's MLP for STEPS steps per worker
(``minigrad.examples.param_server.train``: 10 ms of simulated compute per
step). The server keeps its parameters after every update with the time; at
the end it evaluates the loss on the whole data set at each of them and prints
one JSON line: {straggler: {mode: {"t": [...], "loss": [...], "staleness_mean",
"staleness_max", "lead_max"}}}.
"""
import json
import sys

import numpy as np

import minigrad as mg
from minigrad.distributed import ps
from minigrad.examples.param_server import full_loss, make_model, synthetic_regression, train

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 80
MODES = {"sync": None, "async": None, "ssp": 3}            # mode -> staleness bound
mg.set_default_dtype(np.float64)
group = ps.Group(num_servers=1)
X, y = synthetic_regression()
model = make_model()
results = {}
for straggler in ("one", "random"):
    results[straggler] = {}
    for mode, s in MODES.items():
        out = train(group, mode, STEPS, lr=0.2, staleness=s, compute_s=0.01, straggler=straggler,
                    timeout=120)
        if group.is_server:
            record = out["record"]
            results[straggler][mode] = {
                "t": out["times"].tolist(), "loss": [full_loss(model, p, X, y) for p in out["params"]],
                "staleness_mean": float(record["staleness"].mean()),
                "staleness_max": int(record["staleness"].max()), "lead_max": int(record["clock_gap"].max())}
if group.rank == 0:
    print(json.dumps(results), flush=True)
