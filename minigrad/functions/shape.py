"""Ops that move elements around without arithmetic: reshape, permute,
(un)squeeze, concatenation, splitting. Their gradients move the gradient back
the same way: the gradient of a permute is the inverse permute, of a reshape the
reshape back, of a concatenation its split."""
import math

from minigrad import backend, config
from minigrad.functions.dims import dim_index
from minigrad.tensor import Function, ShapeError, Tensor


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy, x):
        return reshape(gy, x.shape)


class Permute(Function):
    """Reorder dims: output dim i is input dim ``dims[i]``; backward applies the inverse order."""

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy, x):
        inverse = tuple(sorted(range(len(self.dims)), key=self.dims.__getitem__))
        return Permute(inverse)(gy)


class Clone(Function):
    """A copy that stays in the graph (gradient passes through unchanged)."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy, x):
        return gy


class Concat(Function):
    promotes = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        return backend.get_array_module(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy, *xs):
        grads, start = [], 0
        lead = (slice(None),) * self.dim
        for x in xs:
            stop = start + x.shape[self.dim]
            grads.append(gy[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)


def reshape(x, shape):
    """Same elements, new shape; one entry may be -1 (inferred), as torch.reshape."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    size, known = math.prod(x.shape), math.prod(n for n in shape if n != -1)
    inferred = -1 in shape
    try:
        invalid = (shape.count(-1) > 1 or any(n < -1 for n in shape) or (not inferred and known != size)
                   or (inferred and (known == 0 or size % known)))  # -1 beside a 0 is ambiguous, as torch says
    except TypeError:  # a size that is not a number
        raise TypeError(f"reshape: sizes must be integers, got {list(shape)}") from None
    if invalid:
        raise ShapeError(f"reshape: shape {list(shape)} is invalid for input of shape {tuple(x.shape)} "
                         f"({size} elements)")
    return Reshape(shape)(x)


def permute(x, dims):
    dims = tuple(dims)
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a tensor of shape {tuple(x.shape)} ({x.ndim} dims)")
    dims = tuple(dim_index(d, x.shape, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise ShapeError(f"permute: repeated dim in {dims}")
    return Permute(dims)(x)


def transpose(x, dim0, dim1):
    """Swap two dims (torch.transpose); negative dims count from the end."""
    d0, d1 = dim_index(dim0, x.shape, "transpose"), dim_index(dim1, x.shape, "transpose")
    if d0 == d1 or x.ndim < 2:
        return x
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = d1, d0
    return Permute(tuple(dims))(x)


def unsqueeze(x, dim):
    d = dim_index(dim, x.shape, "unsqueeze", extra=1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None):
    """Drop size-1 dims (all of them, or those in ``dim``; a named dim of another size stays)."""
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    named = [dim_index(d, x.shape, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
    dims = set(named)
    if len(dims) != len(named):
        raise ShapeError(f"squeeze: dim {dim} names a dimension more than once (shape {tuple(x.shape)})")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = dim_index(start_dim, x.shape, "flatten"), dim_index(end_dim, x.shape, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {tuple(x.shape)})")
    return reshape(x, x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


def clone(x):
    return Clone()(x)


def _tensor_list(tensors, op):
    """The tensors of a list or tuple; a single Tensor is refused (torch does not iterate it into rows)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ShapeError(f"{op}: expected a non-empty list of tensors")
    return list(tensors)


def cat(tensors, dim=0, *, op="cat"):
    """Join tensors along an existing dim (torch.cat); the shapes must agree elsewhere."""
    tensors = _tensor_list(tensors, op)
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ShapeError(f"{op}: zero-dimensional tensor (at position {i}) cannot be concatenated")
        if t.ndim != first.ndim:
            shapes = [tuple(t.shape) for t in tensors]
            raise ShapeError(f"{op}: tensors must have the same number of dims, got shapes {shapes}")
    d = dim_index(dim, first.shape, op)
    for i, t in enumerate(tensors):
        if t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise ShapeError(
                f"{op}: sizes must match except in dim {dim}; got shapes {[tuple(t.shape) for t in tensors]} "
                f"(tensor {i} differs)"
            )
    return Concat(d)(*tensors)


def concat(tensors, dim=0, *, axis=None):
    """torch.concat, an alias of cat (``axis`` accepted as NumPy's spelling)."""
    return cat(tensors, dim if axis is None else axis, op="concat")


def stack(tensors, dim=0, *, axis=None):
    """Join equal-shape tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    if len({tuple(t.shape) for t in tensors}) > 1:
        raise ShapeError(f"stack: all shapes must be equal, got {[tuple(t.shape) for t in tensors]}")
    d = dim_index(dim if axis is None else axis, tensors[0].shape, "stack", extra=1)
    return Concat(d)(*[unsqueeze(t, d) for t in tensors])


def _narrow(x, dim, start, stop):
    from minigrad.functions.indexing import GetItem  # indexing builds on this module
    return GetItem((slice(None),) * dim + (slice(start, stop),))(x)


def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    d = dim_index(dim, x.shape, "split")
    n = x.shape[d] if x.ndim else 0
    if not isinstance(split_size_or_sections, (int, list, tuple)):
        raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, "
                        f"got {type(split_size_or_sections).__name__}")
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n > 0):
            raise ShapeError(f"split: split_size must be positive, got {size} for dim {dim} of size {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(
                f"split: split sizes {sizes} must be non-negative and sum exactly to {n}, "
                f"the size of dim {dim} of the tensor of shape {tuple(x.shape)}"
            )
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    return tuple(_narrow(x, d, a, b) for a, b in zip(bounds, bounds[1:]))


def chunk(x, chunks, dim=0):
    """``chunks`` pieces of ceil(n / chunks) elements along ``dim`` (fewer when they run out)."""
    if not isinstance(chunks, int):
        raise TypeError(f"chunk: chunks must be an int, got {type(chunks).__name__}")
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be greater than 0, got {chunks}")
    n = x.shape[dim_index(dim, x.shape, "chunk")]
    return split(x, -(-n // chunks) if n else [0] * chunks, dim)


def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability p, scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if inplace:
        raise ValueError("dropout: inplace=True is not supported (minigrad has no in-place ops); use the result")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = config.rng.random(x.shape) >= p
    mask = backend.to_device((keep / (1 - p)).astype(x.dtype), x.device)
    return x * mask


