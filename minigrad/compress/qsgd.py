"""QSGD: stochastic quantisation with an Elias-coded payload.

Alistarh, Grubic, Li, Tomioka, Vojnovic, *QSGD: Communication-Efficient SGD via
Gradient Quantization and Encoding*, NeurIPS 2017, Sec. 3.1 (quantiser) and
Sec. 3.2 (code). For a bucket v of d consecutive coordinates and s levels:

    Q_s(v_i) = ||v||_2 * sign(v_i) * xi_i(v, s) / s

    xi_i = l + 1 with probability  s|v_i| / ||v|| - l,  else l,
    where l = floor(s|v_i| / ||v||)  (0 <= l < s).

E[xi_i] = s|v_i|/||v||, so E[Q(v)] = v (unbiased), and with p_i the fractional
part of s|v_i|/||v|| each coordinate's variance is (||v||/s)^2 p_i (1 - p_i):

    E||Q(v) - v||^2 = (||v||/s)^2 * sum_i p_i (1 - p_i)
                    <= min(d/s^2, sqrt(d)/s) * ||v||^2          (Lemma 3.1 (ii))
    E[number of non-zeros] <= s (s + sqrt(d))                   (Lemma 3.1 (iii))
Q(0) = 0: an all-zero bucket has norm 0 and sends no non-zeros.

Payload (Sec. 3.2): one float32 norm per bucket, then for every non-zero, in
coordinate order, the record  omega(gap) | sign bit | omega(level)  where gap is
the distance from the previous non-zero (the first one counts from position -1,
so gaps are >= 1 and run across bucket boundaries), omega the Elias code of
`elias.py`; the bits are padded to a byte. Two additions of ours: a table of
uint16 chunk lengths (one per chunk of about sqrt(8 * non-zeros) records, at most
256: from 1/16 bit per non-zero for large payloads to ~0.1-0.3 for small ones)
that lets `records.RecordCode` decode all chunks in lockstep, and the 30-byte
envelope and header (sizes, levels, world size, CRC-32).

Robustness. A bucket whose norm is subnormal in float32 (s/||v|| overflows)
is rounded in float64, so it stays unbiased instead of sending every non-zero
at the full norm; float64 norms under 1e-150 are computed as m ||v/m|| (the
squares would flush to zero). `decompress` rejects a header claiming more
non-zeros than its stream can hold (each record takes >= 3 bits) before it
decodes or allocates anything.

The norm is stored as float32 rounded *up*, and that stored value is the one
used for rounding, so s|v_i|/||v|| <= s and the decoder scales by the very norm
the rounding used. The rounding runs in the input's precision: for float32
input the probabilities are exact to 2**-24, the precision of the float32 that
`decompress` returns; for float64 input, to 2**-53.

Randomness: each rank must draw its own stream, otherwise the ranks' rounding
noise is correlated and averaging over p workers no longer divides the
variance by p. `seed=None` seeds from fresh OS entropy (different on every
rank). With an explicit seed, pass a different one per rank, e.g. `seed + rank`.
"""
import struct

import numpy as np

from minigrad.compress.base import Compressor, host_vector
from minigrad.compress.records import RecordCode, records_per_chunk

RECORD = RecordCode(("omega", 1, "omega"))    # gap, sign, level
MIN_RECORD_BITS = 3                           # omega(1) = "0": 1 + 1 + 1 bits
_HEADER = struct.Struct("<IIIIIH")    # n, bucket size, levels, world size, non-zeros, per_chunk


class QSGD(Compressor):
    """QSGD(levels, bucket_size=512, seed=None, world_size=1); bucket_size=None: one bucket."""

    kind = b"Q"

    def __init__(self, levels, bucket_size=512, seed=None, world_size=1):
        super().__init__(world_size)
        if int(levels) != levels or not 1 <= levels < 2**31:
            raise ValueError(f"QSGD: levels must be an integer in [1, 2**31), got {levels!r}")
        if bucket_size is not None and (int(bucket_size) != bucket_size or bucket_size < 1):
            raise ValueError(f"QSGD: bucket_size must be a positive integer or None, "
                             f"got {bucket_size!r}")
        self.levels = int(levels)
        self.bucket_size = None if bucket_size is None else int(bucket_size)
        self.rng = np.random.default_rng(seed)

    def _buckets(self, x):
        """x as a (buckets, d) array, zero-padded at the end."""
        d = self.bucket_size or max(x.size, 1)
        n_buckets = -(-x.size // d)
        if x.size == n_buckets * d:
            return x.reshape(n_buckets, d)
        padded = np.zeros(n_buckets * d, x.dtype)
        padded[: x.size] = x
        return padded.reshape(n_buckets, d)

    def bucket_norms(self, x):
        """Per-bucket L2 norms as float32, rounded up (the norms that go on the wire)."""
        x = host_vector(x, "QSGD")
        buckets = self._buckets(x)
        exact = np.sqrt(np.einsum("ij,ij->i", buckets, buckets, dtype=np.float64))
        underflow = exact < 1e-150             # float64 squares of tiny values flush to 0
        if underflow.any():                    # ||v|| = m ||v / m|| with m = max |v_i|
            big = np.abs(buckets[underflow]).max(axis=1).astype(np.float64)
            scaled = buckets[underflow] / np.where(big > 0, big, 1)[:, None]
            exact[underflow] = big * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
        norms = exact.astype(np.float32)
        low = norms < exact
        norms[low] = np.nextafter(norms[low], np.float32(np.inf))
        if not np.all(np.isfinite(norms)):
            raise ValueError("QSGD: input has inf/NaN, or a bucket norm overflows float32")
        return norms

    def _quantize_sparse(self, x):
        """(norms, indices of non-zeros, their sign bits (1 = negative), their levels)."""
        norms = self.bucket_norms(x)
        ratio = np.abs(self._buckets(x))                 # becomes s|v_i| / ||v||, in place
        scale = _safe_divide(self.levels, norms)         # float64
        tiny = scale > np.finfo(ratio.dtype).max         # s/||v|| overflows: a subnormal norm
        ratio *= np.where(tiny, 0, scale).astype(ratio.dtype)[:, None]   # tiny rows: just below
        if tiny.any():                                   # those rows in float64: s|v_i|/||v|| <= s
            ratio[tiny] = (np.abs(self._buckets(x)[tiny]).astype(np.float64)
                           * scale[tiny, None]).astype(ratio.dtype)
        np.minimum(ratio, self.levels, out=ratio)        # guards the last ulp
        level = np.floor(ratio)
        ratio -= level                                   # fractional part p_i
        level += self.rng.random(ratio.shape, dtype=ratio.dtype) < ratio   # up w.p. p_i
        index = np.flatnonzero(level > 0)               # (a bool mask: 10x faster nonzero)
        return norms, index, x[index] < 0, level.reshape(-1)[index].astype(np.int64)

    def quantize(self, x):
        """(norms, signed levels): Q(x)_i = signed_level_i * norm of its bucket / s."""
        x = host_vector(x, "QSGD.quantize")
        norms, index, negative, level = self._quantize_sparse(x)
        signed = np.zeros(x.size, np.int64)
        signed[index] = np.where(negative, -level, level)
        return norms, signed

    def dequantize(self, norms, signed_levels):
        """The float32 vector Q(x) / world_size from `quantize`'s output."""
        signed_levels = np.asarray(signed_levels)
        index = np.flatnonzero(signed_levels != 0)
        return _assemble(signed_levels.size, self.bucket_size, self.levels, self.world_size,
                         norms, index, signed_levels[index])

    def variance(self, x):
        """Exact E||Q(x) - x||^2 of this quantiser: (||v||/s)^2 sum p_i(1 - p_i) per bucket."""
        x = host_vector(x, "QSGD.variance").astype(np.float64)
        norms = self.bucket_norms(x).astype(np.float64)
        ratio = np.abs(self._buckets(x)) * _safe_divide(self.levels, norms)[:, None]
        p = ratio - np.floor(ratio)
        return float(np.sum((norms / self.levels) ** 2 * np.sum(p * (1 - p), axis=1)))

    # ---- bytes -------------------------------------------------------------------------
    def compress(self, x, key=None):
        """Quantise x (fresh random rounding) and encode it; returns the uint8 payload."""
        x = host_vector(x, "QSGD.compress")
        if x.size >= 2**32:
            raise ValueError(f"QSGD.compress: at most 2**32 - 1 coordinates, got {x.size}")
        norms, index, negative, level = self._quantize_sparse(x)
        gaps = np.diff(index, prepend=-1)
        per_chunk = records_per_chunk(index.size)
        stream, starts = RECORD.encode([gaps, negative, level], per_chunk)
        chunk_bits = np.diff(starts)          # < 2**16: a record has at most 105 bits
        header = _HEADER.pack(x.size, min(self.bucket_size or x.size, x.size), self.levels,
                              self.world_size, index.size, per_chunk)
        return self._seal(header, norms.astype("<f4"), chunk_bits.astype("<u2"), stream)

    def decompress(self, payload):
        """Decode a payload of any QSGD compressor into float32 Q(x) / world_size."""
        name = "QSGD.decompress"
        (n, d, levels, world_size, count, per_chunk), body = self._open(payload, _HEADER)
        if (n and d == 0) or not 1 <= per_chunk <= 256 or levels == 0 or world_size == 0:
            raise ValueError(f"{name}: corrupted header (n={n}, bucket_size={d}, levels={levels}, "
                             f"world_size={world_size}, records per chunk={per_chunk})")
        n_buckets = -(-n // d) if n else 0
        n_chunks = -(-count // per_chunk)
        table = 4 * n_buckets + 2 * max(n_chunks - 1, 0)
        if body.size < table:
            raise ValueError(f"{name}: truncated payload: {body.size} bytes after the header, "
                             f"norms and chunk table need {table}")
        stream_bits = 8 * (body.size - table)
        if count > n or MIN_RECORD_BITS * count > stream_bits:     # checked before decoding
            raise ValueError(f"{name}: corrupted payload: the header claims {count} non-zeros of "
                             f"{n} coordinates, but {stream_bits} bits hold at most "
                             f"{stream_bits // MIN_RECORD_BITS} records")
        norms = np.frombuffer(body, "<f4", n_buckets).astype(np.float32)
        chunk_bits = np.frombuffer(body, "<u2", max(n_chunks - 1, 0), 4 * n_buckets)
        starts = np.concatenate([[0], np.cumsum(chunk_bits, dtype=np.int64)])[:n_chunks]
        gaps, negative, level = RECORD.decode(body[table:], starts, count, per_chunk)
        index = np.cumsum(gaps, out=gaps)
        index -= 1
        if not np.all(np.isfinite(norms) & (norms >= 0)) or (count and (
                index[-1] >= n or level.max() > levels)):
            raise ValueError(f"{name}: corrupted payload: positions, levels or norms out of range")
        np.negative(level, out=level, where=negative == 1)
        return _assemble(n, d, levels, world_size, norms, index, level)


def _safe_divide(numerator, norms):
    """numerator / norms in float64, 0 where a norm is 0 (so Q(0) = 0, no NaN)."""
    norms = norms.astype(np.float64)
    return np.divide(numerator, norms, out=np.zeros_like(norms), where=norms > 0)


def _assemble(n, bucket_size, levels, world_size, norms, index, signed_level):
    """Q(x) / world_size as float32: signed_level * norm / (s * world_size) at `index`."""
    step = norms.astype(np.float64) / (levels * world_size)
    value = step[index // (bucket_size or max(n, 1))]
    value *= signed_level
    out = np.zeros(n, np.float32)
    out[index] = value
    return out
