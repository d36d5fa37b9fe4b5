"""GradScaler under data parallelism: every rank skips the steps any rank overflowed on."""
import pytest

from test_distributed import assert_every_rank_says, run_mpi


@pytest.mark.mpi
def test_found_inf_is_agreed_across_ranks():
    assert_every_rank_says(run_mpi("check_amp_ddp.py", 2), 2, "amp ddp ok")
