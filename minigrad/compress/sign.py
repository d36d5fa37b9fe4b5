"""Scaled sign compression, 1 bit per coordinate (EF-signSGD with error feedback).

signSGD sends sign(x) (Bernstein et al., *signSGD*, ICML 2018). Scaled by the
mean magnitude it becomes the compressor of Karimireddy, Rebjock, Stich, Jaggi,
*Error Feedback Fixes SignSGD and other Gradient Compression Schemes*, ICML
2019, Algorithm 1 (EF-SIGNSGD), line 5:

    C(p) = (||p||_1 / d) * sign(p)          d = number of coordinates

C is a delta-compressor (their Definition 1, delta = ||p||_1^2 / (d ||p||_2^2)),
and without error feedback signSGD can fail to converge (their Sec. 3,
counterexamples); with it (`EFSign = ErrorFeedback(ScaledSign())`) it converges
like SGD. sign(0) is sent as +1 (one bit has no room for 0; error feedback
returns the difference). Payload: the float32 scale ||p||_1 / (d p_world), then
the sign bits packed 8 per byte (1 = negative): 1/8 byte per coordinate.
"""
import struct

import numpy as np

from minigrad.compress.base import Compressor, host_vector
from minigrad.compress.feedback import ErrorFeedback

_HEADER = struct.Struct("<IIf")        # n, world size, scale = ||x||_1 / (n * world size)


class ScaledSign(Compressor):
    """ScaledSign(world_size=1): (||x||_1 / d) * sign(x) in 1 bit per coordinate plus one float."""

    kind = b"S"

    def compress(self, x, key=None):
        x = host_vector(x, "ScaledSign.compress")
        if x.size >= 2**32:
            raise ValueError(f"ScaledSign.compress: at most 2**32 - 1 coordinates, got {x.size}")
        if not np.all(np.isfinite(x)):
            raise ValueError("ScaledSign.compress: input has inf/NaN")
        l1 = float(np.abs(x).sum(dtype=np.float64))
        scale = np.float32(l1 / (max(x.size, 1) * self.world_size))
        return self._seal(_HEADER.pack(x.size, self.world_size, scale), np.packbits(x < 0))

    def decompress(self, payload):
        """float32 vector: +-scale per coordinate."""
        name = "ScaledSign.decompress"
        (n, _world_size, scale), body = self._open(payload, _HEADER)
        self._expect_size(name, "the sign bits", body.size, -(-n // 8))
        if not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"{name}: corrupted payload: scale {scale}")
        out = np.unpackbits(body, count=n).astype(np.float32)     # 1 = negative
        out *= np.float32(-2 * scale)                              # exact: scale * 2^1
        out += np.float32(scale)                                   # +scale or -scale, exactly
        return out


class EFSign(ErrorFeedback):
    """EFSign(world_size=1) = ErrorFeedback(ScaledSign()): EF-signSGD's compressor and memory."""

    def __init__(self, world_size=1):
        super().__init__(ScaledSign(world_size))
