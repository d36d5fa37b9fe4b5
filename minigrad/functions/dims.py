"""Dimension arguments as PyTorch reads them: negative dims count from the end,
an out-of-range dim is an IndexError naming the op and the tensor's shape."""


def dim_index(dim, shape, op, extra=0):
    """One dim in [-n, n) made non-negative, n = len(shape) + extra (extra=1: unsqueeze, stack).

    A 0-d tensor accepts -1 and 0, as in torch."""
    if not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    ndim = len(shape) + extra
    span = ndim if ndim else 1
    if not -span <= dim < span:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor of shape {tuple(shape)} "
            f"(expected to be in range of [{-span}, {span - 1}])"
        )
    return dim % span if ndim else 0


def dim_tuple(dim, shape, op):
    """None or () means every dim; an int or a sequence of ints, each checked and made non-negative."""
    ndim = len(shape)
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = tuple(dim_index(d, shape, op) for d in (dim if isinstance(dim, (tuple, list)) else (dim,)))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dim {dim} names a dimension more than once (shape {tuple(shape)})")
    return tuple(d for d in dims if d < ndim)  # a 0-d tensor has nothing to reduce


def sizes_arg(sizes):
    """``f(2, 3)`` and ``f((2, 3))`` both mean the sizes (2, 3), as in torch."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        return tuple(sizes[0])
    return tuple(sizes)
