"""Deep Gradient Compression: top-k of an accumulated, momentum-corrected velocity.

Lin, Han, Mao, Wang, Dally, *Deep Gradient Compression: Reducing the
Communication Bandwidth for Distributed Training*, ICLR 2018 (arXiv
1712.01887). Per tensor (here: per key, i.e. per DDP bucket), on each rank:

    g_t  <- g_t * min(1, c / (sqrt(p) ||g_t||))  local gradient clipping, threshold c
                                                 scaled by p^(-1/2) (Sec. 3.2)
    u_t   = m u_{t-1} + g_t                      momentum correction (Sec. 3.2):
    v_t   = v_{t-1} + u_t                        accumulate the *velocity*, not g
    mask  = top-k of |v_t|, k = density * n      only these coordinates are sent
    send v_t * mask;  v_t <- v_t * ~mask
    u_t  <- u_t * ~mask                          momentum factor masking (Sec. 3.3)

and the update is  w <- w - lr * (1/p) sum_ranks sent.  The momentum lives HERE
(the hook owns it): the optimizer must be plain SGD *without* momentum, or the
momentum would be applied twice. Warm-up (Sec. 3.3): the density falls
exponentially, 25%, 6.25%, 1.5625%, 0.39% (sparsity 75%, 93.75%, 98.4%,
99.6%), `warmup_steps` steps each, then `1 - sparsity` (the paper: 99.9%, one
epoch per stage). Top-k is exact here (`np.argpartition`), not the paper's
sampled threshold.

Two checks that follow from the formulas (tests/test_compress_dgc.py):
density 1 without masking sends u_t each step, so DGC is momentum SGD; density
1 WITH masking zeroes u_t each step, so it is plain SGD (as is momentum 0).

Values travel in the gradient's dtype (float32, or float64 for float64
models, so density 1 is lossless). A gradient with an inf/NaN is passed
through uncompressed and leaves u and v untouched (the policy of `feedback.py`).
"""
import numpy as np

from minigrad.compress.base import ENVELOPE, Compressor, host_vector
from minigrad.compress.fp16 import NoCompression
from minigrad.compress.topk import TopKSparsifier, top_k_indices


class DGC(Compressor):
    """DGC(sparsity=0.999, momentum=0.9, clip_norm=None, momentum_masking=True,
    warmup_steps=0, warmup_stages=4, world_size=1)."""

    def __init__(self, sparsity=0.999, momentum=0.9, clip_norm=None, momentum_masking=True,
                 warmup_steps=0, warmup_stages=4, world_size=1):
        if not 0 <= sparsity < 1:
            raise ValueError(f"DGC: sparsity must lie in [0, 1), got {sparsity!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"DGC: momentum must lie in [0, 1), got {momentum!r}")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"DGC: clip_norm must be positive or None, got {clip_norm!r}")
        if int(warmup_steps) != warmup_steps or warmup_steps < 0 or warmup_stages < 0:
            raise ValueError(f"DGC: warmup_steps and warmup_stages must be >= 0, got "
                             f"{warmup_steps!r}, {warmup_stages!r}")
        self._wire = {np.dtype(np.float32): TopKSparsifier(1.0, value_dtype=np.float32),
                      np.dtype(np.float64): TopKSparsifier(1.0, value_dtype=np.float64)}
        self._passthrough = NoCompression()
        super().__init__(world_size)
        self.sparsity, self.momentum, self.clip_norm = float(sparsity), float(momentum), clip_norm
        self.momentum_masking = momentum_masking
        self.warmup_steps, self.warmup_stages = int(warmup_steps), int(warmup_stages)
        self.state = {}                # key -> {"u": momentum, "v": velocity, "step": int}
        self.skipped = 0

    @property
    def world_size(self):
        return self._passthrough.world_size

    @world_size.setter
    def world_size(self, value):
        self._passthrough.world_size = value
        for wire in self._wire.values():
            wire.world_size = value

    def density(self, step):
        """Fraction of coordinates sent at `step` (0-based): warm-up 4^-(stage+1), then 1 - sparsity."""
        final = 1.0 - self.sparsity
        if self.warmup_steps and step < self.warmup_steps * self.warmup_stages:
            return max(final, 0.25 ** (step // self.warmup_steps + 1))
        return final

    def compress(self, x, key=None):
        g = host_vector(x, "DGC.compress")
        if not np.all(np.isfinite(g)):
            self.skipped += 1
            return self._passthrough.compress(g)                 # u, v untouched
        state = self.state.get(key)
        if state is None:
            state = self.state[key] = {"u": np.zeros_like(g), "v": np.zeros_like(g), "step": 0}
        elif state["u"].shape != g.shape:
            raise ValueError(f"DGC.compress: key {key!r} had {state['u'].size} coordinates "
                             f"before, now {g.size}; use one key per tensor or bucket")
        if self.clip_norm is not None:
            norm = float(np.sqrt(np.dot(g, g)))
            coef = min(1.0, self.clip_norm / np.sqrt(self.world_size) / (norm + 1e-6))
            g = g * g.dtype.type(coef)                           # (keeps float32 float32)
        u, v = state["u"], state["v"]
        u *= self.momentum
        u += g                                                   # momentum correction
        v += u                                                   # velocity accumulation
        k = min(g.size, max(1, round(self.density(state["step"]) * g.size)))
        index = top_k_indices(v, k)
        wire = self._wire[np.dtype(np.float64 if v.dtype == np.float64 else np.float32)]
        values = wire.wire_values(v[index])                      # v / p, as it travels
        v[index] -= values.astype(v.dtype) * self.world_size     # 0 unless the cast rounded
        if self.momentum_masking:
            u[index] = 0                                         # momentum factor masking
        state["step"] += 1
        return wire.encode(g.size, index, values)

    def decompress(self, payload):
        """The sent velocity / world_size as a dense vector (float32 or float64, as sent)."""
        kind = payload[2:3].tobytes() if isinstance(payload, np.ndarray) and \
            payload.size >= ENVELOPE.size else b""
        if kind == self._passthrough.kind:
            return self._passthrough.decompress(payload)
        for wire in self._wire.values():
            if kind == wire.kind:
                return wire.decompress(payload)
        return self._wire[np.dtype(np.float32)].decompress(payload)     # raises the clear error

    def reset(self):
        """Forget the momentum and velocity of every key."""
        self.state.clear()
