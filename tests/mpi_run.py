"""Running tests/mpi_scripts/*.py under an MPI launcher from pytest, and checking what came back.

    result = run_mpi("check_ddp.py", 4)               # `mpiexec -n 4 python tests/mpi_scripts/check_ddp.py`
    assert_every_rank_says(result, 4, "ddp ok")      # exit 0 and "rank r: ddp ok" from every rank

The launcher runs in a session of its own; if it is still running after
``timeout`` seconds, it and every rank it started are killed and the test
fails. (Fault tests must not rely on that: the job has to end by itself.)
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "mpi_scripts"
BIN = str(Path(sys.executable).parent)


def run_mpi(script, p, *args, timeout=120, launcher="mpiexec"):
    """`launcher -n p python script args` with the venv first on PATH; returns the CompletedProcess."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")     # one BLAS thread per rank
    for name in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"):
        env.pop(name, None)                    # the children get their own from the launcher
    command = [launcher, "-n", str(p), sys.executable, str(SCRIPTS / script), *args]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)      # the launcher and every rank it started
            stdout, stderr = proc.communicate()
            pytest.fail(f"{' '.join(command)} still running after {timeout} s\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def assert_every_rank_says(result, p, words):
    """Exit status 0 and the line "rank r: words" from each rank r."""
    missing = [r for r in range(p) if f"rank {r}: {words}" not in result.stdout]
    assert result.returncode == 0 and not missing, (
        f"exit {result.returncode}, ranks {missing} silent\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}")


def still_running(pid):
    """True unless the process is gone or a zombie (dead, waiting to be reaped by its new parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
