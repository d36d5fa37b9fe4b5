"""Under `mpiexec -n p`: the GPU collectives script check_cupy.py on the CuPy stand-in, then NCCL's setup.

argv[1] is the machine to play:
  nccl        CuPy with NCCL and a GPU per rank: no algorithm named -> NCCL (the
              stand-in's NCCL checks pointers, counts and dtype codes, then uses MPI)
  no-nccl     CuPy built without NCCL: every collective takes MPI, staged through host memory
  shared-gpu  NCCL present but one GPU for all ranks: the ranks agree to stay on MPI
Prints "rank r: <mode> ok".
"""
import os
import runpy
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
mode = sys.argv[1]
os.environ["FAKECUPY_DEVICES"] = "1" if mode == "shared-gpu" else "8"
sys.path.insert(0, str(TESTS))
import fakecupy  # noqa: E402

fakecupy.install(with_nccl=mode != "no-nccl")
runpy.run_path(str(TESTS / "mpi_scripts" / "check_cupy.py"), run_name="__main__")

import minigrad.distributed as dist  # noqa: E402
from minigrad.distributed import nccl  # noqa: E402
from minigrad.distributed.comm import world  # noqa: E402

rank = dist.get_rank()
used = set(fakecupy.cuda.nccl.calls)
expected = {"allReduce", "bcast", "allGather"} if mode == "nccl" else set()
assert used == expected, f"rank {rank}: NCCL calls {used}, expected {expected}"
launcher_says = nccl.local_rank(world())
if mode == "nccl":
    assert fakecupy.cuda.get_device_id() == launcher_says      # one GPU per local rank
for name in nccl.LOCAL_RANK_VARIABLES:       # now the shared-memory split must find the same
    os.environ.pop(name, None)
assert nccl.local_rank(world()) == launcher_says, "local rank from MPI_Comm_split_type differs"
print(f"rank {rank}: {mode} ok", flush=True)
