"""Ops that move elements around without arithmetic: reshape, transpose,
indexing, concatenation. Their gradients move the gradient back the same way;
indexing's gradient is a scatter-ADD, so an element read twice gets both
contributions (the embedding-lookup case)."""
import numpy as np

from minigrad import backend, config
from minigrad.tensor import Function, unwrap


def _raw_index(index):
    return tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)


def _is_basic(index):
    """Basic indexing (ints, slices, None, ...) never selects an element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in parts)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy, x):
        return reshape(gy, x.shape)


class Transpose(Function):
    """Reorder the axes: output axis i is input axis ``axes[i]`` (all axes reversed when None).

    The gradient goes back through the inverse permutation: input axis
    ``axes[i]`` is output axis i, so ``inverse[axes[i]] = i``.
    """

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy, x):
        if self.axes is None:
            return transpose(gy)
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return transpose(gy, inverse)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        return x[self.index]

    def backward(self, gy, x):
        return ScatterAdd(self.index, x.shape)(gy)


class ScatterAdd(Function):
    """zeros(shape) with ``gy`` added at ``index`` (repeated indices accumulate)."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, gy):
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        elif isinstance(self.index, np.ndarray) and self.index.dtype.kind in "iu" and gx.ndim > 1:
            # Whole rows picked by integer ids (an embedding lookup): add.at on the
            # flattened element positions is several times faster than on rows.
            row = gx[0].size
            rows = np.where(self.index < 0, self.index + gx.shape[0], self.index).reshape(-1, 1)
            backend.scatter_add(gx.reshape(-1), (rows * row + np.arange(row)).reshape(-1), gy.reshape(-1))
        else:
            backend.scatter_add(gx, self.index, gy)
        return gx

    def backward(self, ggx, gy):
        return getitem(ggx, self.index)


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return backend.get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy, *xs):
        grads, start = [], 0
        lead = (slice(None),) * (self.axis % gy.ndim)
        for x in xs:
            stop = start + x.shape[self.axis]
            grads.append(gy[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)


def reshape(x, shape):
    return x if x.shape == tuple(shape) else Reshape(tuple(shape))(x)


def transpose(x, axes=None):
    """Permute the axes of ``x`` (NumPy's ``transpose``; the order may use negative axes)."""
    if axes is None:
        return Transpose(None)(x)
    axes = tuple(axes)
    if sorted(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {tuple(x.shape)}")
    return Transpose(tuple(a % x.ndim for a in axes))(x)


def getitem(x, index):
    return GetItem(_raw_index(index))(x)


def concat(xs, axis=0):
    if not xs:
        raise ValueError("concat: needs at least one tensor")
    ndim = xs[0].ndim
    for x in xs:
        others = [n for i, n in enumerate(x.shape) if i != axis % ndim]
        first = [n for i, n in enumerate(xs[0].shape) if i != axis % ndim]
        if x.ndim != ndim or others != first:
            raise ValueError(f"concat: shapes {[tuple(t.shape) for t in xs]} differ outside axis {axis}")
    return Concat(axis)(*xs)


def stack(xs, axis=0):
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    if len({tuple(x.shape) for x in xs}) > 1:
        raise ValueError(f"stack: all shapes must be equal, got {[tuple(t.shape) for t in xs]}")
    axis = axis % (xs[0].ndim + 1)
    return concat([reshape(x, x.shape[:axis] + (1,) + x.shape[axis:]) for x in xs], axis)


def embedding(weight, indices):
    """Rows of ``weight`` picked by integer ``indices`` (any shape); backward scatter-adds."""
    idx = _raw_index(indices)
    if not hasattr(idx, "dtype"):  # a Python list of ids
        idx = backend.get_array_module(weight.data).asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
        raise IndexError(
            f"embedding: index out of range [0, {weight.shape[0]}): min {int(idx.min())}, max {int(idx.max())}"
        )
    return GetItem(idx)(weight)


def dropout(x, p=0.5, training=True):
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability p, scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = config.rng.random(x.shape) >= p
    mask = backend.to_device((keep / (1 - p)).astype(x.dtype), x.device)
    return x * mask
