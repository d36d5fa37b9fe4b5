"""PowerSGD: rank-r approximation of each gradient matrix by one step of power iteration.

Vogels, Karimireddy, Jaggi, *PowerSGD: Practical Low-Rank Gradient
Compression for Distributed Optimization*, NeurIPS 2019, Algorithm 1. For each
gradient M (n x m, a tensor viewed as shape[0] x rest), with Q (m x r) kept
from the previous step (warm start) and the local error e added first:

    M  <- M + e                          error feedback (Algorithm 2)
    P   = M Q           all-reduce P     (sum over ranks)
    P   = orthogonalize(P)               Gram-Schmidt on the r columns
    Q   = M^T P         all-reduce Q, Q /= p
    M'  = P Q^T                          the averaged approximation, sent in (n + m) r numbers
    e   = M - M'                         what was not sent (local M, averaged M')

With one rank, P P^T M is M projected on an r-dimensional column space: never
better than the SVD truncation (Eckart-Young), and equal to it once the power
iteration has converged; with r = min(n, m) it is lossless.

`PowerSGDState` carries the options and names of PyTorch's
`torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook.PowerSGDState`;
the hook that communicates is `minigrad.distributed.comm_hooks.powerSGD_hook`.
Differences, all documented: Q is drawn from NumPy (seeded as PyTorch seeds
its generator, `rng.randint(1_000_000_000)` of a `RandomState(random_seed)`),
not from torch's generator; orthogonalisation is always Gram-Schmidt (PyTorch
uses QR above rank 2: same columns up to sign, and P Q^T does not depend on
the signs); a zero column with epsilon 0 becomes 0 instead of NaN;
`batch_tensors_with_same_shape` is accepted and changes nothing (it only
batches PyTorch's matrix products).
"""
import numpy as np

from minigrad import backend


def orthogonalize(matrix, epsilon=0.0):
    """Gram-Schmidt on the columns of `matrix` (n, r), in place: col_i /= ||col_i|| + epsilon,
    then col_i's component is removed from the later columns."""
    xp = backend.get_array_module(matrix)
    for i in range(matrix.shape[1]):
        col = matrix[:, i]                                           # (n,)
        norm = xp.sqrt(xp.dot(col, col))
        if epsilon == 0 and float(norm) == 0:
            col[...] = 0                                             # PyTorch would give NaN
        else:
            col /= norm + epsilon
        if i + 1 < matrix.shape[1]:
            rest = matrix[:, i + 1:]                                 # (n, r - i - 1)
            rest -= xp.outer(col, col @ rest)
    return matrix


def should_compress(n, m, rank, min_compression_rate):
    """(compress?, n m, (n + m) rank): worth it when (n + m) r * min_compression_rate < n m."""
    uncompressed, compressed = n * m, (n + m) * rank
    return compressed * min_compression_rate < uncompressed, uncompressed, compressed


class PowerSGDState:
    """PyTorch's options: PowerSGDState(process_group, matrix_approximation_rank=1,
    start_powerSGD_iter=1_000, min_compression_rate=2, use_error_feedback=True, warm_start=True,
    orthogonalization_epsilon=0, random_seed=0, compression_stats_logging_frequency=10_000,
    batch_tensors_with_same_shape=False). `process_group` must be None (the world)."""

    def __init__(self, process_group, matrix_approximation_rank=1, start_powerSGD_iter=1_000,
                 min_compression_rate=2, use_error_feedback=True, warm_start=True,
                 orthogonalization_epsilon=0, random_seed=0,
                 compression_stats_logging_frequency=10_000, batch_tensors_with_same_shape=False):
        if process_group is not None:
            raise ValueError("PowerSGDState: minigrad has one process group, the world; pass None")
        if int(matrix_approximation_rank) != matrix_approximation_rank or matrix_approximation_rank < 1:
            raise ValueError(f"PowerSGDState: matrix_approximation_rank must be a positive "
                             f"integer, got {matrix_approximation_rank!r}")
        if (use_error_feedback or warm_start) and start_powerSGD_iter <= 1:
            raise ValueError("PowerSGDState: start_powerSGD_iter must be > 1 when use_error_feedback "
                             "or warm_start is on (as PyTorch: PowerSGD starts after the first two "
                             f"iterations), got {start_powerSGD_iter}")
        self.process_group = None
        self.matrix_approximation_rank = int(matrix_approximation_rank)
        self.start_powerSGD_iter = start_powerSGD_iter
        self.min_compression_rate = min_compression_rate
        self.use_error_feedback = use_error_feedback
        self.warm_start = warm_start
        self.orthogonalization_epsilon = orthogonalization_epsilon
        self.rng = np.random.RandomState(random_seed)
        self.error_dict, self.p_memory_dict, self.q_memory_dict = {}, {}, {}
        self.iter = 0
        self.total_numel_before_compression = 0
        self.total_numel_after_compression = 0
        self.compression_stats_logging_frequency = max(1, compression_stats_logging_frequency)
        self.batch_tensors_with_same_shape = batch_tensors_with_same_shape

    def maybe_increase_iter(self, bucket):
        """One more iteration once the last bucket of a step is done."""
        if bucket.is_last():
            self.iter += 1

    def compression_stats(self):
        """(compression rate, numbers before, numbers after) since the start."""
        after = self.total_numel_after_compression
        rate = self.total_numel_before_compression / after if after > 0 else 0
        return rate, self.total_numel_before_compression, after

    def random_q(self, shapes, dtype):
        """Fresh Gaussian Q's of the given shapes, one seed drawn from `rng` as PyTorch does."""
        generator = np.random.default_rng(self.rng.randint(1_000_000_000))
        return [generator.standard_normal(shape).astype(dtype, copy=False) for shape in shapes]
