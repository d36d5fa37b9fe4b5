"""Top-k sparsification, with error feedback by default.

Send only the k coordinates of largest magnitude, as (index, value) pairs:

    C(a) = a_i at the k = max(1, round(ratio * n)) largest |a_i|, 0 elsewhere.

On its own (`TopKSparsifier`) top-k drops the other coordinates for good and
training stalls at ratio 1%; with error feedback (`feedback.py`) what was not
sent comes back at the next step, so nothing is lost, only delayed:

    TopK(ratio) = ErrorFeedback(TopKSparsifier(ratio))

Lin, Han, Mao, Wang, Dally, *Deep Gradient Compression*, ICLR 2018 (arXiv
1712.01887), Sec. 3.1 "local gradient accumulation"; Karimireddy et al. 2019,
Algorithm 2 (EF-SGD). `dgc.py` adds the rest of DGC (momentum correction...).

Values travel in float32, or in float64 when `value_dtype=np.float64` (DGC
uses that so that density 1 is lossless for float64 models; payload kind
b"t" instead of b"T"); indices as uint32. `decompress` returns the values' dtype.
"""
import struct

import numpy as np

from minigrad.compress.base import Compressor, host_vector
from minigrad.compress.feedback import ErrorFeedback

_HEADER = struct.Struct("<III")        # n, k, world size
_KINDS = {np.dtype("<f4"): b"T", np.dtype("<f8"): b"t"}      # the kind byte names the value dtype


def top_k_indices(a, k):
    """Sorted indices of the k largest |a_i| (all of them when k = a.size)."""
    if k >= a.size:
        return np.arange(a.size)
    return np.sort(np.argpartition(np.abs(a), a.size - k)[a.size - k:])


class TopKSparsifier(Compressor):
    """TopKSparsifier(ratio, world_size=1, value_dtype=np.float32): top-k with no memory."""

    def __init__(self, ratio, world_size=1, value_dtype=np.float32):
        super().__init__(world_size)
        if not 0 < ratio <= 1:
            raise ValueError(f"TopK: ratio must lie in (0, 1], got {ratio!r}")
        self.ratio = float(ratio)
        self.value_dtype = np.dtype(value_dtype).newbyteorder("<")
        if self.value_dtype not in _KINDS:
            raise ValueError(f"TopK: value_dtype must be float32 or float64, got {value_dtype!r}")
        self.kind = _KINDS[self.value_dtype]

    def compress(self, x, key=None):
        x = host_vector(x, "TopK.compress")
        k = min(x.size, max(1, round(self.ratio * x.size)))
        index = top_k_indices(x, k)
        return self.encode(x.size, index, self.wire_values(x[index]))

    def wire_values(self, values):
        """values / world_size as they travel (in `value_dtype`)."""
        return (values / self.world_size).astype(self.value_dtype)

    def encode(self, n, index, values):
        """Payload of the wire `values` at the sorted, distinct `index` (n coordinates)."""
        if n >= 2**32:
            raise ValueError(f"TopK.compress: at most 2**32 - 1 coordinates, got {n}")
        header = _HEADER.pack(n, index.size, self.world_size)
        return self._seal(header, index.astype("<u4"), values)

    def decompress(self, payload):
        """Dense vector: the sent values / world_size at their indices, 0 elsewhere."""
        name = "TopK.decompress"
        (n, k, _world_size), body = self._open(payload, _HEADER)
        width = self.value_dtype.itemsize
        self._expect_size(name, "the index/value part", body.size, (4 + width) * k)
        index = np.frombuffer(body, "<u4", k).astype(np.int64)
        values = np.frombuffer(body, self.value_dtype, k, 4 * k)
        if k > n or (k and (index[-1] >= n or np.any(np.diff(index) <= 0))):
            raise ValueError(f"{name}: corrupted payload: indices not increasing below n={n}")
        out = np.zeros(n, values.dtype.newbyteorder("="))
        out[index] = values
        return out


class TopK(ErrorFeedback):
    """TopK(ratio, world_size=1) = ErrorFeedback(TopKSparsifier(ratio)): top-k with its residual."""

    def __init__(self, ratio, world_size=1):
        super().__init__(TopKSparsifier(ratio, world_size))

    @property
    def ratio(self):
        return self.compressor.ratio
