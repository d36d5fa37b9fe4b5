"""Dense payloads: half precision (FP16) and none at all (NoCompression).

FP16 halves the bytes by casting to IEEE float16 (11-bit significand, largest
finite value 65504, values below 6e-8 flush to zero). The sum of p gradients can
be p times larger than any one of them, which is how fp16 all-reduces overflow;
dividing by the world size *before* the cast keeps the sum of the p decoded
values as small as the largest input (the "pre-divide" of NCCL/Horovod-style
fp16 compression; Micikevicius et al., *Mixed Precision Training*, ICLR 2018,
discuss the float16 range). A value that overflows even after the division
raises a ValueError rather than sending inf.

NoCompression sends float32 (x / world_size): the uncompressed baseline with the
same interface.
"""
import struct

import numpy as np

from minigrad.compress.base import Compressor, host_vector

_HEADER = struct.Struct("<II")          # n, world size


class _DenseCast(Compressor):
    """Send x / world_size cast to `wire_dtype`."""

    wire_dtype = None

    def compress(self, x, key=None):
        name = f"{type(self).__name__}.compress"
        x = host_vector(x, name)
        if x.size >= 2**32:
            raise ValueError(f"{name}: at most 2**32 - 1 coordinates, got {x.size}")
        with np.errstate(over="ignore"):               # checked just below
            wire = (x / self.world_size).astype(self.wire_dtype)
        overflow = np.isinf(wire) & np.isfinite(x)
        if overflow.any():
            big = np.abs(x[overflow]).max()
            raise ValueError(f"{name}: |x| / world_size = {big / self.world_size:.6g} overflows "
                             f"{self.wire_dtype.name} (max "
                             f"{np.finfo(self.wire_dtype).max:.6g}); scale the loss down")
        return self._seal(_HEADER.pack(x.size, self.world_size), wire)

    def decompress(self, payload):
        name = f"{type(self).__name__}.decompress"
        (n, _world_size), body = self._open(payload, _HEADER)
        self._expect_size(name, "the value part", body.size, self.wire_dtype.itemsize * n)
        return np.frombuffer(body, self.wire_dtype, n).astype(np.float32)


class FP16(_DenseCast):
    """FP16(world_size=1): float16 of x / world_size (2 bytes per coordinate)."""

    kind = b"H"
    wire_dtype = np.dtype("<f2")


class NoCompression(_DenseCast):
    """NoCompression(world_size=1): float32 of x / world_size (4 bytes per coordinate)."""

    kind = b"N"
    wire_dtype = np.dtype("<f4")
