"""Run under `mpiexec -n p`: GradScaler agrees on found-inf across ranks.

Each rank trains its own copy of p on its own gradients (no averaging, so that
a local overflow is seen by one rank only); rank 1 overflows at steps 2 and 5.
Every rank must skip exactly those steps, and the scales must stay equal on
every rank. The last line on each rank is "rank r: amp ddp ok".
"""
import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad import amp, optim

p_count, rank = dist.get_world_size(), dist.get_rank()
assert p_count >= 2
param = mg.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
opt = optim.SGD([param], lr=0.5)
scaler = amp.GradScaler(growth_interval=3)
overflow_steps = {2, 5}
for step in range(8):
    c = np.full(4, 0.25 * (rank + 1), dtype=np.float32)
    if rank == 1 and step in overflow_steps:
        c[0] = np.inf
    before = param.data.copy()
    opt.zero_grad()
    scaler.scale((param * mg.tensor(c)).sum()).backward()
    scaler.step(opt)
    scaler.update()
    skipped = np.array_equal(before, param.data)
    assert skipped == (step in overflow_steps), f"rank {rank} step {step}: skipped={skipped}"
    scales = dist.all_gather(np.array([scaler.get_scale()]))
    assert all(s[0] == scales[0][0] for s in scales), f"step {step}: scales differ across ranks {scales}"
# two backoffs (steps 2 and 5); no run of 3 clean steps in between or after: 2^16 / 4
assert scaler.get_scale() == 2.0**14, scaler.get_scale()
print(f"rank {rank}: amp ddp ok", flush=True)
