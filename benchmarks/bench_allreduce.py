"""All-reduce bandwidth: minigrad's all_reduce vs raw mpi4py Allreduce vs minigrad's ring.

    python benchmarks/bench_allreduce.py            # launches mpiexec -n 2 and -n 4 itself
    SIZES=1e3,1e4 RANKS=2 TRIALS=5 python benchmarks/bench_allreduce.py   # a short run
    mpiexec -n 4 python benchmarks/bench_allreduce.py --worker

For each size N (float32) and each way of all-reducing, rank 0 prints the time
per call (the best of TRIALS trials; a trial is the slowest rank's mean over
several calls, the ways interleaved) and the algorithm bandwidth 4N / t.
"all_reduce" is minigrad's default call with every safety check on (the
header with sequence number, kind, size and call site travels in the same
message; the deadline is polled with MPI_Test). Peers measured in the same
run: raw mpi4py ``Allreduce`` and the bare ring (``ring.ring_reduce``, no
header exchange). Targets (issue 13): ratio vs raw Allreduce >= 0.8 from 10^3
to 10^5; ratio vs the better peer >= 0.95 from 10^6 up.

Noise: with more ranks than cores, MPICH's busy-polling ranks take turns on
the CPUs, and on a shared machine other jobs interfere: single timings vary by
2-10x. Interference only ever adds time, so the best trial is the most
repeatable figure; still, run the script twice before believing a ratio.
"""
import os
import subprocess
import sys
import time

import numpy as np

SIZES = [int(float(n)) for n in os.environ.get("SIZES", "1e3,1e4,1e5,1e6,1e7").split(",")]
TRIALS = int(os.environ.get("TRIALS", 15))
RANKS = [int(p) for p in os.environ.get("RANKS", "2,4").split(",")]


def measure(comm, fn, reps):
    comm.Barrier()
    fn()                                   # warm-up (scratch buffers, MPI connections)
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    elapsed = (time.perf_counter() - start) / reps
    return comm.allreduce(elapsed, op=max_op())


def max_op():
    from mpi4py import MPI
    return MPI.MAX


def worker():
    from mpi4py import MPI
    import minigrad.distributed as dist
    from minigrad.distributed import collectives, guard, ring

    comm, p = MPI.COMM_WORLD, dist.get_world_size()
    rows = []
    for n in SIZES:
        x = np.zeros(n, dtype=np.float32)
        reps = max(2, min(200, 2 * 10**6 // n))
        ways = {
            "raw Allreduce": lambda: comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM),
            "bare ring": lambda: ring.ring_reduce(comm, x, "add", guard.Call("all_reduce(sum) by ring",
                                                                             site=False)),
            "all_reduce": lambda: dist.all_reduce(x),
        }
        times = {name: [] for name in ways}
        for _ in range(TRIALS):                # interleaved, so drifting load hits every way alike
            for name, fn in ways.items():
                times[name].append(measure(comm, fn, reps))
        t = {name: min(v) for name, v in times.items()}
        best_peer = min(t["raw Allreduce"], t["bare ring"])
        rows.append((n, t, t["raw Allreduce"] / t["all_reduce"], best_peer / t["all_reduce"],
                     collectives.choose_algorithm(x.nbytes)))
    if dist.get_rank() == 0:
        print(f"\n{p} ranks, float32, best of {TRIALS} trials; times in microseconds, "
              f"bandwidth 4N/t in GB/s")
        print(f"{'N':>9} | {'raw Allreduce':>15} | {'bare ring':>15} | {'all_reduce':>15} | "
              f"{'vs MPI':>6} {'vs best':>7} | picks")
        for n, t, ratio_mpi, ratio_best, algorithm in rows:
            cells = " | ".join(f"{t[k] * 1e6:9.1f} {4 * n / t[k] / 1e9:5.2f}"
                               for k in ("raw Allreduce", "bare ring", "all_reduce"))
            print(f"{n:>9} | {cells} | {ratio_mpi:6.2f} {ratio_best:7.2f} | {algorithm}")
        sys.stdout.flush()


def main():
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
               OPENBLAS_NUM_THREADS="1")
    for p in RANKS:
        subprocess.run(["mpiexec", "-n", str(p), sys.executable, os.path.abspath(__file__),
                        "--worker"], env=env, check=True, timeout=600)


if __name__ == "__main__":
    worker() if "--worker" in sys.argv else main()
