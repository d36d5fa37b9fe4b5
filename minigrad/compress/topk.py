"""Top-k sparsification with error feedback.

Send only the k coordinates of largest magnitude, as (index, value) pairs, and
keep what was not sent for the next step instead of dropping it:

    a_t    = g_t + e_{t-1}          accumulate: the leftover comes back
    sent_t = top_k(a_t)             k = max(1, round(ratio * n)) largest |a_t,i|
    e_t    = a_t - sent_t           the new leftover (residual)

Lin, Han, Mao, Wang, Dally, *Deep Gradient Compression*, ICLR 2018 (arXiv
1712.01887), Sec. 3.1 "local gradient accumulation"; Karimireddy, Rebjock,
Stich, Jaggi, *Error Feedback Fixes SignSGD and other Gradient Compression
Schemes*, ICML 2019, Algorithm 2 (EF-SGD). Nothing is lost, only delayed:
telescoping gives  sum_t sent_t + e_T = sum_t g_t.

Values travel as float32 (indices as uint32). Whatever that rounding removes
stays in the residual, so the identity holds for float64 gradients too. One
residual is kept per `key` (DDP compresses several buckets per step).
"""
import struct

import numpy as np

from minigrad.compress.base import Compressor, host_vector

_HEADER = struct.Struct("<III")        # n, k, world size


class TopK(Compressor):
    """TopK(ratio, world_size=1): keep round(ratio * n) coordinates (at least one)."""

    kind = b"T"

    def __init__(self, ratio, world_size=1):
        super().__init__(world_size)
        if not 0 < ratio <= 1:
            raise ValueError(f"TopK: ratio must lie in (0, 1], got {ratio!r}")
        self.ratio = float(ratio)
        self.residuals = {}            # key -> e_t, in the dtype of the gradients

    def reset(self):
        """Forget every residual (e.g. when the model's parameters are replaced)."""
        self.residuals.clear()

    def compress(self, x, key=None):
        x = host_vector(x, "TopK.compress")
        if x.size >= 2**32:
            raise ValueError(f"TopK.compress: at most 2**32 - 1 coordinates, got {x.size}")
        residual = self.residuals.get(key)
        if residual is not None and residual.shape != x.shape:
            raise ValueError(f"TopK.compress: key {key!r} had {residual.size} coordinates "
                             f"before, now {x.size}; use one key per tensor or bucket")
        accumulated = x + residual if residual is not None else x.copy()
        k = min(x.size, max(1, round(self.ratio * x.size)))
        if k == x.size:
            index = np.arange(k)
        else:
            index = np.sort(np.argpartition(np.abs(accumulated), x.size - k)[x.size - k:])
        values = (accumulated[index] / self.world_size).astype(np.float32)
        accumulated[index] -= values.astype(accumulated.dtype) * self.world_size
        self.residuals[key] = accumulated          # what was not sent, exactly
        header = _HEADER.pack(x.size, k, self.world_size)
        return self._seal(header, index.astype("<u4"), values.astype("<f4"))

    def decompress(self, payload):
        """Dense float32 vector: the sent values / world_size at their indices, 0 elsewhere."""
        name = "TopK.decompress"
        (n, k, world_size), body = self._open(payload, _HEADER)
        self._expect_size(name, "the index/value part", body.size, 8 * k)
        index = np.frombuffer(body, "<u4", k).astype(np.int64)
        values = np.frombuffer(body, "<f4", k, 4 * k).astype(np.float32)
        if k > n or (k and (index[-1] >= n or np.any(np.diff(index) <= 0))):
            raise ValueError(f"{name}: corrupted payload: indices not increasing below n={n}")
        out = np.zeros(n, np.float32)
        out[index] = values
        return out
