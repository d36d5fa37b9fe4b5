"""minigrad.distributed.nccl: the local rank, when NCCL is chosen, and the collectives on the CuPy stand-in.

The multi-rank runs launch tests/mpi_scripts/check_nccl_stand_in.py, which runs the
GPU script check_cupy.py on the stand-in (fakecupy) for three machines: NCCL with
a GPU per rank, CuPy without NCCL, and one GPU shared by all ranks. On a real GPU
machine, test_distributed.py runs check_cupy.py itself (marked gpu).
"""
import numpy as np
import pytest

import fakecupy
from minigrad.distributed import collectives, nccl
from test_distributed import assert_every_rank_says, run_mpi


@pytest.mark.parametrize("name", nccl.LOCAL_RANK_VARIABLES)
def test_local_rank_comes_from_each_launchers_variable(name):
    assert nccl.local_rank(environ={name: "3"}) == 3


def test_local_rank_prefers_hydra_then_open_mpi_and_rejects_garbage():
    both = {"OMPI_COMM_WORLD_LOCAL_RANK": "1", "MPI_LOCALRANKID": "2"}
    assert nccl.local_rank(environ=both) == 2
    with pytest.raises(ValueError, match="MPI_LOCALRANKID='x' is not a rank number"):
        nccl.local_rank(environ={"MPI_LOCALRANKID": "x"})


def test_local_rank_without_launcher_or_communicator_is_zero():
    assert nccl.local_rank(comm=None, environ={}) == 0


@pytest.mark.parametrize("with_nccl", [True, False])
def test_a_single_process_never_uses_nccl(monkeypatch, with_nccl):
    fakecupy.install(monkeypatch, with_nccl=with_nccl)
    x = fakecupy.arange(4.0)
    assert nccl.all_reduce(x, "sum") is False and nccl.broadcast(x, 0) is False
    assert nccl.all_gather(x) is None
    assert collectives.all_reduce(x) is x and x.get().tolist() == [0, 1, 2, 3]


def test_nccl_is_not_offered_host_arrays_or_dtypes_it_lacks(monkeypatch):
    """With two ranks pretended, only device arrays of NCCL's dtypes go on to NCCL's setup."""
    fakecupy.install(monkeypatch)
    monkeypatch.setattr(nccl._world, "size", 2)
    assert not nccl.takes(np.zeros(3, np.float32))
    assert not nccl.takes(fakecupy.zeros(3, dtype=np.complex64))
    assert not nccl.takes(fakecupy.zeros(3, dtype=bool))
    assert nccl.takes(fakecupy.zeros(3, dtype=np.float16))
    fakecupy.install(monkeypatch, with_nccl=False)
    assert not nccl.takes(fakecupy.zeros(3, dtype=np.float32))


@pytest.mark.mpi
@pytest.mark.parametrize("mode,p", [("nccl", 2), ("nccl", 3), ("no-nccl", 2), ("shared-gpu", 2)])
def test_gpu_collectives_on_the_stand_in_equal_the_mpi_path(mode, p):
    """check_cupy.py: auto (NCCL or staged), mpi and ring agree with exact sums; the right path is taken."""
    result = run_mpi("check_nccl_stand_in.py", p, mode, timeout=60)
    assert_every_rank_says(result, p, f"{mode} ok")
    assert ("so NCCL is not used" in result.stderr) == (mode == "shared-gpu"), result.stderr
