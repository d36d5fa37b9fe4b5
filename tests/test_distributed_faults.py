"""More ways a data-parallel job goes wrong: each must end by itself, every rank, naming rank and cause.

Each scenario of tests/mpi_scripts/faults_more.py runs under `mpiexec -n p`
with the library's own deadline set short (MINIGRAD_COLLECTIVE_TIMEOUT=4); the
job must end within 30 s with a non-zero status and the words listed, which
name the failing rank and what it did. The outer subprocess timeout (60 s) is
only a backstop. (tests/test_distributed.py has the first set, faults.py.)
"""
import time

import pytest

from mpi_run import run_mpi

TIMEOUT_S = "4"
# scenario -> (ranks, words that stderr or stdout must contain)
FAULTS = {
    "sigkill_mid_all_reduce": (2, ["Killed (signal 9)"]),       # MPICH's launcher: pid and signal
    "sigterm_mid_all_reduce": (2, ["rank 1 of 2: terminated by SIGTERM"]),
    "sigint_mid_all_reduce": (2, ["rank 1 of 2: uncaught KeyboardInterrupt"]),
    "sigkill_mid_backward": (2, ["Killed (signal 9)"]),
    "sigterm_mid_backward": (2, ["rank 1 of 2: terminated by SIGTERM"]),
    "return_early": (2, ["rank 1 of 2: this rank is exiting", "rank 1: exit #1)"]),
    "extra_call_after_others_finished": (3, ["rank 0 of 3: this rank is exiting",
                                             "rank 2: all_reduce(sum) #1 of 5 float64"]),
    "keyboard_interrupt": (2, ["rank 1 of 2: uncaught KeyboardInterrupt"]),
    "comm_hook_raises": (2, ["rank 1 of 2: uncaught ValueError: deliberate failure in the comm hook"]),
    "comm_hook_raises_caught": (2, ["rank 1: skipping a batch after deliberate failure in the comm hook",
                                    "does not match the other ranks' calls"]),
    "sys_exit_in_hook": (2, ["rank 1 of 2: this rank is exiting"]),
    "sigint_mid_ring": (2, ["rank 1 of 2: uncaught KeyboardInterrupt"]),
    "forward_raises": (2, ["rank 1 of 2: uncaught FloatingPointError: deliberate failure in forward"]),
    "different_model_sizes": (2, ["the ranks hold different models", "uncaught CollectiveMismatch"]),
    "broadcast_src_out_of_range": (2, ["uncaught ValueError: broadcast: src must be a rank in [0, 2), "
                                       "got 2"]),
    "broadcast_src_differs": (2, ["rank 0: broadcast #1 of 4 float64 from rank 0",
                                  "rank 1: broadcast #1 of 4 float64 from rank 1"]),
    "dtype_mismatch": (2, ["rank 0: all_reduce(sum) #1 of 10 float32",
                           "rank 1: all_reduce(sum) #1 of 10 float64"]),
    "shape_mismatch": (2, ["rank 0: all_reduce(sum) #1 of 12 float32",
                           "rank 1: all_reduce(sum) #1 of 15 float32"]),
    "op_mismatch": (2, ["rank 0: all_reduce(sum) #1 of 10", "rank 1: all_reduce(max) #1 of 10"]),
    "op_sum_vs_min": (2, ["rank 0: all_reduce(sum) #1 of 10", "rank 1: all_reduce(min) #1 of 10"]),
    "barrier_one_rank": (2, ["rank 0: barrier #1", "rank 1: exit #1"]),
    "barrier_vs_all_reduce": (2, ["rank 0: barrier #1", "rank 1: all_reduce(sum) #1 of 10 float64"]),
    # rank 1 fails before joining MPI: the others' MPI_Init gets the deadline (faulthandler prints it)
    "raise_before_import": (2, ["RuntimeError: deliberate failure on rank 1 before importing",
                                f"Timeout (0:00:0{TIMEOUT_S})!", "in _join_mpi"]),
    "exit_0_before_import": (2, [f"Timeout (0:00:0{TIMEOUT_S})!", "in _join_mpi"]),
    "raise_after_finalize": (2, ["rank 1 of 2: uncaught RuntimeError: deliberate failure on rank 1 after "
                                 "MPI.Finalize; exiting with status 1"]),
    "collective_after_finalize": (2, ["rank 0: all_reduce(sum) refused: MPI.Finalize() was called before"]),
}
# the same mechanism as another case here or in faults.py: kept, but only in full (slow) runs
SLOW = {"sigkill_mid_all_reduce", "sigkill_mid_backward", "keyboard_interrupt", "forward_raises",
        "op_mismatch", "shape_mismatch", "barrier_vs_all_reduce", "exit_0_before_import", "return_early",
        "sys_exit_in_hook", "sigint_mid_ring", "broadcast_src_out_of_range"}
CASES = ([pytest.param(name, "mpiexec", marks=[pytest.mark.slow] if name in SLOW else []) for name in FAULTS]
         + [pytest.param("keyboard_interrupt", "mpirun"),
            pytest.param("sigterm_mid_backward", "mpirun", marks=pytest.mark.slow)])


def launch(scenario, p, monkeypatch, timeout_s=TIMEOUT_S, launcher="mpiexec"):
    monkeypatch.setenv("MINIGRAD_COLLECTIVE_TIMEOUT", timeout_s)
    start = time.monotonic()
    result = run_mpi("faults_more.py", p, scenario, timeout=60, launcher=launcher)
    return result, time.monotonic() - start


@pytest.mark.mpi
@pytest.mark.parametrize("scenario, launcher", CASES)
def test_fault_ends_every_rank_nonzero_within_30s_naming_rank_and_cause(scenario, launcher, monkeypatch):
    p, words = FAULTS[scenario]
    result, elapsed = launch(scenario, p, monkeypatch, launcher=launcher)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{scenario}: exit status 0\n{output}"
    assert elapsed < 30, f"{scenario} took {elapsed:.1f} s"
    missing = [w for w in words if w not in output]
    assert not missing, f"{scenario}: the output lacks {missing}\n{output}"


@pytest.mark.mpi
def test_collective_timeout_from_the_environment_variable_names_the_missing_rank(monkeypatch):
    result, elapsed = launch("stuck_rank_env_timeout", 2, monkeypatch, timeout_s="2")
    assert result.returncode != 0 and elapsed < 30, result.stdout + result.stderr
    assert ("did not complete within its timeout of 2 s; ranks [1] never arrived (rank 1 did not answer"
            in result.stderr), result.stderr


@pytest.mark.mpi
@pytest.mark.parametrize("value", ["0", pytest.param("soon", marks=pytest.mark.slow)])
def test_a_bad_timeout_in_the_environment_is_named_on_every_rank(value, monkeypatch):
    result, _ = launch("init_twice", 2, monkeypatch, timeout_s=value)
    assert result.returncode != 0
    expected = f"MINIGRAD_COLLECTIVE_TIMEOUT must be a number of seconds > 0, got {value!r}"
    assert result.stderr.count(expected) == 2, result.stderr


@pytest.mark.mpi
@pytest.mark.parametrize("scenario", ["init_twice", "finalize_at_end",
                                      pytest.param("slow_rank_at_end", marks=pytest.mark.slow)])
def test_legitimate_endings_exit_zero(scenario, monkeypatch):
    """init() twice, MPI.Finalize() by hand at the end, a rank busy a while after the last collective."""
    result, _ = launch(scenario, 2, monkeypatch)
    missing = [r for r in range(2) if f"rank {r}: finished" not in result.stdout]
    assert result.returncode == 0 and not missing, result.stdout + result.stderr


@pytest.mark.mpi
def test_os_exit_0_on_one_rank_ends_the_job_at_once(monkeypatch):
    """``os._exit(0)`` skips every handler; MPICH's launcher then kills the other ranks, silently and
    with exit status 0 (nothing inside a process can report it). What we check: no hang."""
    result, elapsed = launch("os_exit_0", 2, monkeypatch)
    assert elapsed < 30 and "rank 0: finished" not in result.stdout, result.stdout + result.stderr
