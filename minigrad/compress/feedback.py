"""Error feedback ("memory"): a wrapper that turns any compressor into one that loses nothing.

A compressor C sends C(x) instead of x. Error feedback keeps what C dropped and
adds it to the next input (Seide, Fu, Droppo, Li, Yu, *1-Bit Stochastic
Gradient Descent and its Application to Data-Parallel Distributed Training of
Speech DNNs*, Interspeech 2014, Sec. 3; Karimireddy, Rebjock, Stich, Jaggi,
*Error Feedback Fixes SignSGD and other Gradient Compression Schemes*, ICML
2019, Algorithm 2 "EF-SGD"):

    a_t    = g_t + e_{t-1}          the leftover comes back
    sent_t = C(a_t)                 what the receivers decode (times p, see below)
    e_t    = a_t - sent_t           the new leftover (residual), e_0 = 0

Summing over t, the e's telescope:  sum_t sent_t + e_T = sum_t g_t  — nothing
is lost, only delayed. The memory lives here, apart from the compressor (as in
GRACE, Xu et al. 2021), so TopK, sign, QSGD and FP16 share one implementation.

`sent_t` is the compressor's own decoding of its payload times the world size
(every compressor encodes x / p, `base.py`), computed in the residual's dtype,
so a float64 gradient keeps the float32 rounding of the wire in its residual.
One residual per `key` (DDP compresses each bucket under its own key).

The identity holds for any C, but e_T stays bounded only for a contraction,
E||C(x) - x||^2 <= (1 - delta) ||x||^2 (Karimireddy et al., Definition 1):
Top-k, scaled sign, FP16 are; QSGD with few levels is not (its error bound
min(d/s^2, sqrt(d)/s) ||x||^2 can exceed ||x||^2) and its residual then grows
geometrically; use more levels, or send C(x) / (1 + omega) as they suggest.

Non-finite inputs (the policy). If a_t holds an inf or NaN (an overflowing
step, a NaN loss), adding it to the residual would make every later output NaN.
So the step is *passed through*: x itself is sent uncompressed (float32, the
`NoCompression` payload, so the receiver sees the inf/NaN and a loss scaler or
a check can skip the step), the residual is left exactly as it was, and
`skipped` counts such steps. `decompress` reads both payload kinds.
"""
import numpy as np

from minigrad.compress.base import ENVELOPE, Compressor, host_vector
from minigrad.compress.fp16 import NoCompression


class ErrorFeedback(Compressor):
    """ErrorFeedback(compressor): `compressor` with a per-key residual (EF-SGD memory)."""

    def __init__(self, compressor):
        if not isinstance(compressor, Compressor):
            raise TypeError(f"ErrorFeedback: expected a minigrad.compress compressor, "
                            f"got {type(compressor).__name__}")
        if isinstance(compressor, ErrorFeedback):
            raise TypeError("ErrorFeedback: the compressor already has error feedback")
        self.compressor = compressor
        self.kind = compressor.kind
        self._passthrough = NoCompression()
        super().__init__(compressor.world_size)
        self.residuals = {}            # key -> e_t, in the dtype of the gradients
        self.skipped = 0               # steps passed through because of an inf/NaN

    @property
    def world_size(self):
        return self.compressor.world_size

    @world_size.setter
    def world_size(self, value):
        self.compressor.world_size = value
        self._passthrough.world_size = value

    def reset(self):
        """Forget every residual (e.g. when the model's parameters are replaced)."""
        self.residuals.clear()

    def compress(self, x, key=None):
        name = f"ErrorFeedback({type(self.compressor).__name__}).compress"
        x = host_vector(x, name)
        residual = self.residuals.get(key)
        if residual is not None and residual.shape != x.shape:
            raise ValueError(f"{name}: key {key!r} had {residual.size} coordinates before, "
                             f"now {x.size}; use one key per tensor or bucket")
        with np.errstate(over="ignore", invalid="ignore"):
            accumulated = x + residual if residual is not None else x.copy()
        if not np.all(np.isfinite(accumulated)):
            self.skipped += 1
            return self._passthrough.compress(x)            # residual untouched
        payload = self.compressor.compress(accumulated, key=key)
        sent = self.compressor.decompress(payload).astype(accumulated.dtype)
        sent *= self.world_size
        accumulated -= sent
        self.residuals[key] = accumulated                   # what was not sent
        return payload

    def decompress(self, payload):
        """Decode with the wrapped compressor, or as float32 if the step was passed through."""
        if (isinstance(payload, np.ndarray) and payload.dtype == np.uint8
                and payload.size >= ENVELOPE.size
                and payload[2:3].tobytes() == self._passthrough.kind):
            return self._passthrough.decompress(payload)
        return self.compressor.decompress(payload)

    def __repr__(self):
        return f"ErrorFeedback({self.compressor!r})"
