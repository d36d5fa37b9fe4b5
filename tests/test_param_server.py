"""minigrad.distributed.ps: the parameter server, against closed forms and single-process training.

Multi-rank checks run tests/mpi_scripts/ps_*.py under `mpiexec` with timeouts;
the fixed-delay stability bound is checked in one process through the same
ShardState.apply the server uses.
"""
import time
from types import SimpleNamespace

import numpy as np
import pytest

import minigrad as mg
from minigrad.distributed import ps
from minigrad.optim import SGD
from mpi_run import assert_every_rank_says, run_mpi, still_running


@pytest.mark.mpi
def test_sync_mode_equals_single_process_big_batch_training():
    """1 server + 3 workers with SGD(momentum, weight decay), 2 servers + 2 workers with Adam: 1e-12."""
    assert_every_rank_says(run_mpi("ps_sync.py", 4), 4, "sync ok")


@pytest.mark.mpi
def test_async_applies_every_gradient_once_and_ssp_bounds_the_lead():
    """Closed-form final parameters, each (worker, step) once; SSP gap <= s and reached (see script)."""
    assert_every_rank_says(run_mpi("ps_async.py", 5), 5, "async ok")


@pytest.mark.mpi
@pytest.mark.parametrize("scenario, cause", [
    ("worker-raises", "RuntimeError: deliberate failure on worker rank 2"),
    ("worker-stuck", "parameter server rank 0 (async, update"),
    ("server-stuck", "no answer from rank(s) [0] within 5 s"),
    ("worker-killed", "Killed (signal 9)"),                  # MPICH's launcher: pid and signal
    ("worker-exits", "no message from worker rank(s) [2] within 5 s"),
])
def test_failure_ends_every_rank_nonzero_within_30s_naming_the_cause(scenario, cause, tmp_path):
    start = time.monotonic()
    result = run_mpi("ps_fault.py", 3, scenario, str(tmp_path), timeout=30)
    assert time.monotonic() - start < 30
    assert result.returncode != 0, result.stdout + result.stderr
    assert cause in result.stdout + result.stderr, result.stdout + result.stderr   # MPICH: on stdout
    if scenario == "worker-stuck":
        assert "no message from worker rank(s) [2]" in result.stderr, result.stderr
    assert "rank 0: finished" not in result.stdout and "rank 2: finished" not in result.stdout
    pids = [int((tmp_path / f"rank{r}.pid").read_text()) for r in range(3)]
    time.sleep(0.5)
    assert not [pid for pid in pids if still_running(pid)]


def delayed_descent(h, lr, tau, steps):
    """Gradient descent on f(x) = sum(h x^2) / 2 with every gradient tau updates old, via ShardState."""
    x0 = np.ones_like(h)
    state = ps.ShardState(x0, [(0, h.size, h.shape)], lambda params: SGD(params, lr=lr))
    return ps.run_with_delay(state, lambda x: h * x, tau, steps), state


@pytest.mark.parametrize("tau", [1, 2, 4])
def test_fixed_delay_converges_below_the_closed_form_bound_and_diverges_above(tau):
    h = np.array([2.0, 0.3, 0.05])                 # the largest curvature decides stability
    bound = 2 * np.sin(np.pi / (2 * (2 * tau + 1)))
    assert np.isclose(ps.stability_bound(tau), bound)
    below, state = delayed_descent(h, 0.95 * bound / h.max(), tau, 2000)
    above, _ = delayed_descent(h, 1.05 * bound / h.max(), tau, 2000)
    assert np.abs(below[-1]).max() < 1e-3              # |x| shrank a thousandfold or more
    assert np.abs(above[-1]).max() > 1e3               # ... or grew as much
    staleness = state.record()["staleness"]
    assert np.array_equal(staleness, np.minimum(np.arange(2000), tau))


def test_fixed_delay_follows_the_delay_recurrence():
    """x_{t+1} = x_t - lr h x_{t-tau} (x_s = x_0 for s < 0), written out in NumPy."""
    h, lr, tau, steps = np.array([1.5, 0.2]), 0.3, 2, 50
    got, _ = delayed_descent(h, lr, tau, steps)
    x = [np.ones(2)]
    for t in range(steps):
        x.append(x[t] - lr * h * x[max(t - tau, 0)])
    np.testing.assert_allclose(got, np.array(x), rtol=1e-13, atol=0)


def test_flat_layout_cuts_contiguous_ranges_and_pieces():
    layout = ps.FlatLayout([(2, 3), (4,), (1,)], num_servers=3)     # 11 numbers
    assert layout.bounds == [0, 3, 7, 11]
    assert layout.pieces(0) == [(0, 3, (3,))]
    assert layout.pieces(1) == [(3, 6, (3,)), (6, 7, (1,))]
    assert layout.pieces(2) == [(7, 10, (3,)), (10, 11, (1,))]
    whole = ps.FlatLayout([(2, 3), (4,)], num_servers=1)
    assert whole.pieces(0) == [(0, 6, (2, 3)), (6, 10, (4,))]
    with pytest.raises(ValueError, match="num_servers must be in"):
        ps.FlatLayout([(2,)], num_servers=3)


def test_shard_state_pieces_of_one_parameter_step_like_the_whole():
    """Adam on a parameter cut in two pieces equals Adam on the whole parameter (element-wise)."""
    from minigrad.optim import Adam
    mg.set_default_dtype(np.float64)
    rng = np.random.default_rng(0)
    x0, grads = rng.standard_normal(6), rng.standard_normal((3, 6))
    cut = ps.ShardState(x0, [(0, 2, (2,)), (2, 6, (4,))], lambda p: Adam(p, lr=0.1))
    whole = mg.tensor(x0.copy(), requires_grad=True)
    opt = Adam([whole], lr=0.1)
    for g in grads:
        cut.apply(g, [(0, 0, cut.version, 0)])
        whole.grad = mg.tensor(g)
        opt.step()
    np.testing.assert_array_equal(cut.flat, whole.data)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_servers < number of processes"):
        ps.Group(num_servers=1)                        # one process: no room for a worker
    fake = SimpleNamespace(is_server=True, rank=0, servers=[0], num_servers=1, workers=[1])
    x = mg.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="unknown mode 'downpour'"):
        ps.ParameterServer(fake, [x], lambda p: SGD(p, lr=0.1), mode="downpour")
    with pytest.raises(ValueError, match="staleness= goes with mode='ssp'"):
        ps.ParameterServer(fake, [x], lambda p: SGD(p, lr=0.1), mode="ssp")
    with pytest.raises(ValueError, match="staleness must be an int >= 0"):
        ps.ParameterServer(fake, [x], lambda p: SGD(p, lr=0.1), mode="ssp", staleness=-1)
    with pytest.raises(ValueError, match="rank 0 is a server"):
        ps.Worker(fake, [x])
    mixed = [x, mg.tensor(np.zeros(2), requires_grad=True)]   # float32 and float64
    with pytest.raises(ValueError, match=r"ParameterServer: all parameters must share one dtype"):
        ps.ParameterServer(fake, mixed, lambda p: SGD(p, lr=0.1))
