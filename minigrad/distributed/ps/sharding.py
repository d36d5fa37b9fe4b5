"""Which server holds which parameters: one flat vector cut into contiguous ranges.

The model's parameters, flattened and concatenated in ``parameters()`` order,
form one vector of N numbers. With S servers, server k holds the range

    [bounds[k], bounds[k+1]),   bounds[k] = floor(k N / S)

so the ranges are contiguous, disjoint, cover the vector, and differ in length
by at most one. A parameter may straddle two ranges; each server then holds a
1-D piece of it (``pieces``). Element-wise optimizers (SGD, Adam, ...) give the
same numbers however the vector is cut; optimizers that look at a whole tensor
(LARS and LAMB take its norm) see pieces, so they match a single process only
with one server.
"""
import math

import numpy as np


class FlatLayout:
    """``FlatLayout(shapes, num_servers)``: offsets of the parameters and the servers' ranges."""

    def __init__(self, shapes, num_servers):
        self.shapes = [tuple(shape) for shape in shapes]
        sizes = [math.prod(shape) for shape in self.shapes]
        self.offsets = np.cumsum([0] + sizes).tolist()
        self.total = self.offsets[-1]
        if not 1 <= num_servers <= max(self.total, 1):
            raise ValueError(f"FlatLayout: num_servers must be in [1, {self.total}] for {self.total} "
                             f"parameter elements, got {num_servers}")
        self.bounds = [k * self.total // num_servers for k in range(num_servers + 1)]

    def shard(self, k):
        """``(lo, hi)``: the flat range of server k."""
        return self.bounds[k], self.bounds[k + 1]

    def pieces(self, k):
        """``[(lo, hi, shape), ...]``: the parts of parameters inside server k's range.

        ``lo, hi`` are positions in the flat vector; ``shape`` is the parameter's
        own shape when it lies wholly inside, else ``(hi - lo,)``.
        """
        first, last = self.shard(k)
        result = []
        for shape, start, end in zip(self.shapes, self.offsets, self.offsets[1:]):
            lo, hi = max(start, first), min(end, last)
            if lo < hi:
                whole = (lo, hi) == (start, end)
                result.append((lo, hi, shape if whole else (hi - lo,)))
        return result


def common_dtype(params, who):
    """The one dtype of ``params`` (a non-empty list of CPU Tensors), or a ValueError naming ``who``."""
    if not params:
        raise ValueError(f"{who}: got no parameters")
    dtypes = sorted({str(p.dtype) for p in params})
    if len(dtypes) > 1:
        raise ValueError(f"{who}: all parameters must share one dtype (they travel in one flat "
                         f"buffer), got {dtypes}")
    devices = sorted({p.device for p in params})
    if devices != ["cpu"]:
        raise ValueError(f"{who}: parameters must live on the CPU (messages are NumPy buffers), "
                         f"got devices {devices}")
    return params[0].dtype


def flatten(arrays, dtype):
    """One new 1-D array holding ``arrays`` one after the other (None counts as zeros of size 0)."""
    return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays])


def flat_parameters(params):
    return flatten([p.data for p in params], params[0].dtype)


def flat_gradients(params):
    """The parameters' gradients as one vector; a parameter without a gradient contributes zeros."""
    return flatten([np.zeros(p.shape, p.dtype) if p.grad is None else p.grad.data for p in params],
                   params[0].dtype)


def load_flat(params, flat, layout):
    """Write the flat vector back into the parameters' arrays, in place."""
    for p, start, end in zip(params, layout.offsets, layout.offsets[1:]):
        p.data[...] = flat[start:end].reshape(p.shape)
