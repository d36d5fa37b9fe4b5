"""minigrad.distributed: collectives, the ring, failure behaviour, the sampler.

The multi-rank checks live in tests/mpi_scripts/ and run under `mpiexec -n p`
as subprocesses with timeouts (one launch per world size: each costs 1-2 s of
startup). The tests here also cover what a single process sees: no launcher
means world size 1, and mpi4py is not imported.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
from minigrad.distributed import collectives, ring
# (other test files import run_mpi and assert_every_rank_says from here)
from mpi_run import assert_every_rank_says, run_mpi, still_running


@pytest.mark.mpi
@pytest.mark.parametrize("p", [2, 3, 4])
def test_collectives_match_exact_sums_and_mpi_allreduce(p):
    """Sizes 0, 1, 3, p-1, p+1, 10^6+3, float32/64, auto/mpi/ring; bytes sent; errors (see script)."""
    assert_every_rank_says(run_mpi("check_collectives.py", p), p, "collectives ok")


@pytest.mark.mpi
def test_exception_on_one_rank_ends_every_rank_nonzero_within_30s(tmp_path):
    start = time.monotonic()
    result = run_mpi("crash_one_rank.py", 4, str(tmp_path), timeout=30)
    elapsed = time.monotonic() - start
    assert result.returncode != 0, result.stdout + result.stderr
    assert "finished" not in result.stdout
    assert "RuntimeError: deliberate failure on rank 1" in result.stderr   # that rank's traceback
    assert elapsed < 30
    pids = [int((tmp_path / f"rank{r}.pid").read_text()) for r in range(4)]
    time.sleep(0.5)
    assert not [pid for pid in pids if still_running(pid)]               # no rank is left behind


# scenario -> ranks, and what stderr must say: which rank, and why
FAULTS = {
    "raise_before_ddp": (2, ["rank 1 of 2: uncaught RuntimeError: deliberate failure on rank 1 before"]),
    "exit_0": (2, ["rank 1 of 2: this rank is exiting", "rank 0: all_reduce(sum) #1 of 10 float64"]),
    "exit_3": (2, ["rank 1 of 2: this rank is exiting"]),
    "replaced_excepthook": (2, ["other library's hook: deliberate failure",
                                "rank 1 of 2: uncaught ValueError: deliberate failure on rank 1"]),
    "stuck_rank": (3, ["WARNING rank 0: all_reduce(sum) #1 of 10 float64",
                       "did not complete within its timeout of 4 s; ranks [1] never arrived (rank 1 did "
                       "not answer"]),
    "killed": (2, ["Killed (signal 9)"]),
    "extra_all_reduce": (2, ["does not match the other ranks' calls", "faults.py:"]),
    "size_mismatch": (2, ["rank 1: all_reduce(sum) #1 of 11 float64", "rank 0: all_reduce(sum) #1 of 10"]),
    "extra_step": (2, ["rank 0: DDP bucket all-reduce #", "does not match the other ranks' calls"]),
    "no_sync_one_rank": (2, ["(backward passes since the last sync: 2)",
                             "(backward passes since the last sync: 1)"]),
    "hook_one_rank": (2, ["all_gather_bytes #", "does not match the other ranks' calls"]),
    "unused_parameter": (2, ["received no gradient in this backward pass: ['unused.weight', 'unused.bias']",
                             "find_unused_parameters=True"]),
}


@pytest.mark.mpi
@pytest.mark.parametrize("scenario", list(FAULTS))
def test_every_fault_ends_every_rank_nonzero_within_30s_naming_rank_and_cause(scenario, monkeypatch):
    """Each scenario of tests/mpi_scripts/faults.py, collective timeout 4 s."""
    monkeypatch.setenv("MINIGRAD_COLLECTIVE_TIMEOUT", "4")
    p, words = FAULTS[scenario]
    start = time.monotonic()
    result = run_mpi("faults.py", p, scenario, timeout=60)   # the job must end by itself, well before
    elapsed = time.monotonic() - start
    assert result.returncode != 0 and "finished" not in result.stdout, result.stdout + result.stderr
    assert elapsed < 30, f"{scenario} took {elapsed:.1f} s"
    missing = [w for w in words if w not in result.stdout + result.stderr]
    assert not missing, f"{scenario}: stderr lacks {missing}\n{result.stderr}"


def test_import_does_not_import_mpi4py_and_single_process_is_world_size_1():
    code = ("import sys, minigrad, minigrad.distributed as d; "
            "assert 'mpi4py' not in sys.modules; "
            "assert (d.get_rank(), d.get_world_size()) == (0, 1); d.barrier(); "
            "assert 'mpi4py' not in sys.modules; print('ok')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_single_process_collectives_are_the_identity_in_place():
    x = np.arange(5.0)
    for op in ("sum", "mean", "max", "min"):
        assert dist.all_reduce(x, op=op) is x
    assert np.array_equal(x, np.arange(5.0))
    t = mg.tensor([1.0, 2.0])
    assert dist.ring_all_reduce(t) is t and np.array_equal(t.data, [1.0, 2.0])
    assert dist.broadcast(t) is t
    gathered = dist.all_gather(t)
    assert len(gathered) == 1 and isinstance(gathered[0], mg.Tensor)
    assert np.array_equal(gathered[0].data, [1.0, 2.0]) and gathered[0].data is not t.data
    payload = np.frombuffer(b"abc", dtype=np.uint8)
    assert [bytes(b) for b in dist.all_gather_bytes(payload)] == [b"abc"]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="all_reduce: expected a minigrad Tensor"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="unknown op 'prod'"):
        dist.all_reduce(np.ones(2), op="prod")
    with pytest.raises(TypeError, match="op='mean' needs a floating array"):
        dist.all_reduce(np.ones(2, dtype=np.int64), op="mean")
    with pytest.raises(ValueError, match="unknown algorithm 'tree'"):
        collectives.choose_algorithm(10, "tree")
    with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\)"):
        dist.broadcast(np.ones(2), src=1)
    with pytest.raises(TypeError, match="all_gather_bytes: expected a 1-D uint8"):
        dist.all_gather_bytes(np.ones(3))


def test_algorithm_choice_follows_the_documented_threshold():
    per_peer = collectives.RING_THRESHOLD_BYTES
    for p in (2, 4):
        assert collectives.choose_algorithm(per_peer * (p - 1) - 1, p=p) == "mpi"
        assert collectives.choose_algorithm(per_peer * (p - 1), p=p) == "ring"
    assert collectives.choose_algorithm(10**9, "mpi") == "mpi"


@pytest.mark.parametrize("n", [0, 1, 3, 7, 1000])
@pytest.mark.parametrize("p", [1, 2, 3, 4, 5])
def test_ring_chunks_cover_the_vector_and_sends_match_2_p_minus_1_over_p(n, p):
    b = ring.chunk_bounds(n, p)
    sizes = np.diff(b)
    assert b[0] == 0 and b[-1] == n and sizes.min() >= 0 and sizes.max() - sizes.min() <= 1
    # rank r sends every chunk but (r+1) in the reduce-scatter and every chunk but (r+2) after
    for r in range(p):
        sent = (2 * n - sizes[(r + 1) % p] - sizes[(r + 2) % p]) if p > 1 else 0
        assert abs(sent - 2 * (p - 1) / p * n) < 2


def test_sampler_shards_are_disjoint_cover_the_epoch_and_change_with_set_epoch():
    n, p = 103, 4
    samplers = [dist.DistributedSampler(n, num_replicas=p, rank=r, seed=7) for r in range(p)]
    shards = [np.array(list(s)) for s in samplers]
    assert all(len(s) == 26 == len(shard) for s, shard in zip(samplers, shards))   # ceil(103/4)
    together = np.concatenate(shards)
    counts = np.bincount(together, minlength=n)
    padded = samplers[0].permutation()[0]                  # padding wraps round to the start
    assert counts[padded] == 2 and np.delete(counts, padded).tolist() == [1] * (n - 1)
    first = shards[0].copy()
    samplers[0].set_epoch(1)
    assert not np.array_equal(first, np.array(list(samplers[0])))
    samplers[0].set_epoch(0)
    assert np.array_equal(first, np.array(list(samplers[0])))        # same seed+epoch, same order


def test_sampler_drop_last_and_no_shuffle_and_global_batch():
    shards = [list(dist.DistributedSampler(10, num_replicas=3, rank=r, shuffle=False, drop_last=True))
              for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    s = dist.DistributedSampler(12, num_replicas=3, rank=0, shuffle=True, seed=1)
    order = s.permutation()
    assert np.array_equal(s.global_batch(1, 2), np.concatenate([order[r::3][2:4] for r in range(3)]))
    with pytest.raises(ValueError, match=r"rank 3 is not in \[0, 3\)"):
        dist.DistributedSampler(10, num_replicas=3, rank=3)


@pytest.mark.gpu
def test_cupy_arrays_all_reduce_through_host_staging():
    pytest.importorskip("cupy")
    if not mg.backend.cupy_available():
        pytest.skip("no CUDA device visible to CuPy")
    assert_every_rank_says(run_mpi("check_cupy.py", 2), 2, "cupy ok")


@pytest.mark.mpi
def test_ddp_equals_big_batch_sgd_and_replicas_stay_bitwise_equal():
    """4 ranks: the idiomatic PyTorch loop (no_sync, clipping, momentum, float64) vs big-batch SGD
    to 1e-10, replicas bitwise equal; one collective per step with accumulate; comm hooks (script)."""
    assert_every_rank_says(run_mpi("check_ddp.py", 4), 4, "ddp ok")


def test_ddp_in_one_process_is_plain_training(float64):
    from minigrad import nn, optim
    import minigrad.nn.functional as F

    def run(wrap):
        mg.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
        model = dist.DistributedDataParallel(net) if wrap else net
        opt = optim.SGD(model.parameters(), lr=0.1)
        X = mg.tensor(np.linspace(-1, 1, 24).reshape(8, 3))
        for _ in range(3):
            loss = F.mse_loss(model(X), X.sum(axis=1, keepdims=True))
            loss.backward()
            opt.step()
            opt.zero_grad()
        return np.concatenate([q.data.reshape(-1) for q in net.parameters()])

    assert np.array_equal(run(wrap=True), run(wrap=False))


def test_ddp_buckets_respect_the_cap_and_dtype():
    from minigrad import nn
    from minigrad.distributed.buckets import make_buckets
    params = [nn.Parameter(np.zeros(n, dtype=np.float32)) for n in (100, 100, 300)]
    params.append(nn.Parameter(np.zeros(10, dtype=np.float64)))
    named = [(f"p{i}", q) for i, q in enumerate(params)]
    sizes = [[q.numel() for q in b.params] for b in make_buckets(named, cap_bytes=800)]
    assert sizes == [[100, 100], [300], [10]]          # 800 bytes = 200 float32; new dtype, new bucket
    assert [[q.numel() for q in b.params] for b in make_buckets(named, 0)] == [[100], [100], [300], [10]]
    first_small = make_buckets(named, cap_bytes=2000, first_cap_bytes=400)
    assert [[q.numel() for q in b.params] for b in first_small] == [[100], [100, 300], [10]]


def test_ddp_buckets_run_in_reverse_parameter_order_and_hooks_see_pytorchs_bucket():
    from minigrad import nn
    from minigrad.distributed.buckets import GradBucket
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model = dist.DistributedDataParallel(net, bucket_cap_mb=0)
    names = [name for b in model.buckets for name in b.names]
    assert names == ["2.bias", "2.weight", "0.bias", "0.weight"]     # last layer first
    seen = []

    def hook(state, bucket):
        assert isinstance(bucket, GradBucket) and state == "state"
        grads = bucket.gradients()
        assert [tuple(g.shape) for g in grads] == [tuple(q.shape) for q in bucket.parameters()]
        seen.append((bucket.index(), bucket.is_last(), bucket.buffer().data.copy()))
        return bucket.buffer()                       # one rank: the average is the buffer itself

    model.register_comm_hook("state", hook)
    with pytest.raises(RuntimeError, match="already registered"):
        model.register_comm_hook("state", hook)
    model(mg.tensor(np.ones((5, 3), dtype=np.float32))).sum().backward()   # one process: p = 1
    assert [(index, last) for index, last, _ in seen] == [(0, False), (1, False), (2, False), (3, True)]
    expected = np.concatenate([q.grad.data.reshape(-1) for b in model.buckets for q in b.params])
    assert np.array_equal(np.concatenate([buffer for _, _, buffer in seen]), expected)


def test_ddp_names_unused_parameters_unless_told_to_find_them():
    from mpi_scripts.two_heads import TwoHeads
    with pytest.raises(RuntimeError, match=r"no gradient in this backward pass: \['unused.weight', "
                                           r"'unused.bias'\].*find_unused_parameters=True"):
        dist.DistributedDataParallel(TwoHeads())(mg.ones(2, 4)).sum().backward()
    model = dist.DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    model(mg.ones(2, 4)).sum().backward()
    assert model.module.unused.weight.grad is None and model.module.used.weight.grad is not None


def test_no_sync_is_decided_at_forward_time_as_pytorch():
    from minigrad import nn
    model = dist.DistributedDataParallel(nn.Linear(3, 1))
    model.timeline = []
    with model.no_sync():
        out = model(mg.ones(2, 3))
    out.sum().backward()                       # forward ran inside no_sync: no reduction
    assert model.timeline == []
    model(mg.ones(2, 3)).sum().backward()
    assert [event for _, event, _ in model.timeline] == ["start", "end"]
