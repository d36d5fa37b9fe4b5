"""Each rank its own share of the data: ``torch.utils.data.distributed.DistributedSampler``'s rule.

Every rank draws the SAME permutation of 0..n-1 (seeded with ``seed + epoch``,
so it changes from epoch to epoch but never between ranks), pads it by
wrapping round to a multiple of p (or drops the tail with ``drop_last``), and
keeps every p-th index starting at its rank:

    rank r of p:   permutation[r], permutation[r + p], permutation[r + 2p], ...

The shards are disjoint and together cover the epoch, so p ranks each taking
micro-batches of b from their shard see, step by step, exactly the global
batches of p*b that one process would take from the interleaved permutation
(``global_batch`` below gives them, for checks).
"""
import numpy as np

from minigrad.distributed.comm import get_rank, get_world_size


class DistributedSampler:
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False)``.

    ``dataset`` is anything with ``len()`` or simply the number of examples.
    Call ``set_epoch(epoch)`` at the start of each epoch to reshuffle.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        self.length = int(dataset) if isinstance(dataset, (int, np.integer)) else len(dataset)
        self.num_replicas = get_world_size() if num_replicas is None else int(num_replicas)
        self.rank = get_rank() if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in [0, {self.num_replicas})")
        if self.length < 0:
            raise ValueError(f"DistributedSampler: dataset length must be >= 0, got {self.length}")
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        if drop_last:
            self.num_samples = self.length // self.num_replicas
        else:
            self.num_samples = -(-self.length // self.num_replicas)      # ceil(n / p)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def permutation(self):
        """The epoch's order of all examples, padded or cut to total_size (identical on every rank)."""
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.length)
        else:
            order = np.arange(self.length)
        if self.total_size > self.length:                      # pad by wrapping round
            order = np.resize(order, self.total_size) if self.length else order
        return order[: self.total_size]

    def indices(self):
        """This rank's share: every num_replicas-th index of the permutation, from ``rank``."""
        return self.permutation()[self.rank::self.num_replicas]

    def global_batch(self, step, batch_size):
        """The examples that all ranks together use at ``step`` with per-rank ``batch_size``."""
        order = self.permutation()
        shards = [order[r::self.num_replicas][step * batch_size:(step + 1) * batch_size]
                  for r in range(self.num_replicas)]
        return np.concatenate(shards)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples
