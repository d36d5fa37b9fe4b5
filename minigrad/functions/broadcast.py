"""expand and repeat: copies of a tensor along dims, built from broadcast_to and
reshape, so their gradients (sums over the copies) come from those two ops."""

from minigrad.functions.arithmetic import broadcast_to
from minigrad.functions.dims import sizes_arg
from minigrad.functions.shape import reshape
from minigrad.tensor import ShapeError


def expand(x, *sizes):
    """Broadcast size-1 dims (and new leading dims) to ``sizes``; -1 keeps a dim's size (torch.Tensor.expand)."""
    sizes = sizes_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: {len(sizes)} sizes {list(sizes)} are fewer than the {x.ndim} dims of shape {tuple(x.shape)}"
        )
    target = []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise ShapeError(f"expand: size {n} is not allowed in a new leading dim {i} (sizes {list(sizes)})")
            target.append(n)
            continue
        have = x.shape[i - lead]
        if n == -1:
            n = have
        if have != n and have != 1:
            raise ShapeError(
                f"expand: the expanded size ({n}) must match the existing size ({have}) at non-singleton dim {i}; "
                f"target sizes {list(sizes)}, tensor shape {tuple(x.shape)}"
            )
        target.append(n)
    return broadcast_to(reshape(x, (1,) * lead + tuple(x.shape)), tuple(target))


def expand_as(x, other):
    return expand(x, tuple(other.shape))


def repeat(x, *sizes):
    """Tile ``x`` ``sizes[i]`` times along dim i (torch.Tensor.repeat, NumPy's tile)."""
    sizes = sizes_arg(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat counts {list(sizes)} are fewer than the tensor's {x.ndim} dims")
    if any(r < 0 for r in sizes):
        raise ShapeError(f"repeat: repeat counts must be non-negative, got {list(sizes)}")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    # (n0, n1) -> (1, n0, 1, n1) -> broadcast to (r0, n0, r1, n1) -> (r0*n0, r1*n1)
    spread = reshape(x, tuple(v for n in shape for v in (1, n)))
    copies = broadcast_to(spread, tuple(v for r, n in zip(sizes, shape) for v in (r, n)))
    return reshape(copies, tuple(r * n for r, n in zip(sizes, shape)))


