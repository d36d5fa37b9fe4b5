"""Reading elements by position: indexing with PyTorch's (= NumPy's) rules,
gather, embedding lookup, and masking (masked_fill, tril, triu).

Indexing's gradient is a scatter-ADD: an element read twice (``x[[0, 0]]``,
an embedding row used by two tokens) receives both contributions. The scatter
goes through ``backend.scatter_add`` so it works on NumPy and CuPy alike.
"""
import numpy as np

from minigrad import backend
from minigrad.functions.dims import dim_index
from minigrad.functions.shape import reshape
from minigrad.tensor import Function, ShapeError, Tensor, unwrap


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw_part(i) for i in index)
    return _raw_part(index)


def _raw_part(i):
    if isinstance(i, Tensor):
        return i.data.astype(bool) if i.data.dtype == np.uint8 else i.data  # torch reads uint8 as a mask
    if isinstance(i, list) and any(isinstance(v, Tensor) for v in i):
        return [unwrap(v) for v in i]
    return i


def _no_repeats(index):
    """Ints, slices, None, ... and boolean masks never select an element twice: plain assignment suffices."""
    for i in index if isinstance(index, tuple) else (index,):
        if not (isinstance(i, (int, slice, type(None), type(Ellipsis)))
                or (hasattr(i, "dtype") and i.dtype.kind == "b")):
            return False
    return True


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
        index = self.index
        if _no_repeats(index):
            gx[index] = gy
        elif hasattr(index, "dtype") and index.dtype.kind in "iu" and gx.ndim > 1:
            # Whole rows picked by integer ids (an embedding lookup): adding at flat element
            # positions is several times faster than adding whole rows.
            row = gx[0].size
            rows = xp.where(index < 0, index + gx.shape[0], index).reshape(-1, 1)
            flat = (rows * row + xp.arange(row)).reshape(-1)
            backend.scatter_add(gx.reshape(-1), flat, gy.reshape(-1))
        else:
            backend.scatter_add(gx, index, gy)
        return gx

    def backward(self, ggx, gy):
        return GetItem(self.index)(ggx)


def getitem(x, index):
    """x[index] with PyTorch's rules: ints, slices, None, Ellipsis, bool masks, int tensors/lists."""
    index = _raw_index(index)
    if x.device != "cpu":  # as torch, a CPU index may select from a GPU tensor: move it there
        index = _to_device(index, x.device)
    return GetItem(index)(x)


def _to_device(index, device):
    if isinstance(index, tuple):
        return tuple(_to_device(i, device) for i in index)
    if isinstance(index, (np.ndarray, list)) and not isinstance(index, (bool, int)):
        return backend.to_device(np.asarray(index), device)
    return index


def embedding(weight, indices):
    """Rows of ``weight`` picked by integer ``indices`` (any shape); backward scatter-adds."""
    idx = unwrap(indices)
    if not hasattr(idx, "dtype"):  # a Python list of ids
        idx = np.asarray(idx)
    if weight.device != "cpu":
        idx = _to_device(idx, weight.device)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
        raise IndexError(
            f"embedding: index out of range [0, {weight.shape[0]}): min {int(idx.min())}, max {int(idx.max())}"
        )
    return GetItem(idx)(weight)


def gather(x, dim, index):
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim=0 (torch.gather); index has x's number of dims."""
    d = dim_index(dim, x.shape, "gather")
    idx = unwrap(index)
    if not hasattr(idx, "dtype"):
        raise TypeError(f"gather: index must be a tensor, got {type(index).__name__}")
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: index must hold integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise ShapeError(f"gather: index of shape {tuple(idx.shape)} must have as many dims as input {tuple(x.shape)}")
    if x.ndim == 0:  # as torch: a 0-d input behaves as a 1-element vector
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) > 0):
            raise ShapeError(f"gather: index out of range for a 0-d input (values {idx.tolist()})")
        return reshape(GetItem(idx.reshape(-1))(reshape(x, (1,))), idx.shape)
    for i, (n, m) in enumerate(zip(idx.shape, x.shape)):
        if i != d and n > m:
            raise ShapeError(f"gather: index shape {tuple(idx.shape)} exceeds input shape {tuple(x.shape)} in dim {i}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= x.shape[d]):
        raise ShapeError(
            f"gather: index values in [{int(idx.min())}, {int(idx.max())}] out of range for dim {dim} of size {x.shape[d]}"
        )
    xp = backend.get_array_module(idx)
    full = tuple(
        idx if i == d else xp.arange(n).reshape((1,) * i + (n,) + (1,) * (idx.ndim - i - 1))
        for i, n in enumerate(idx.shape)
    )
    return GetItem(full)(x)


class MaskedFill(Function):
    """``value`` where ``mask`` is true, x elsewhere; the gradient passes only where the mask is false."""

    def __init__(self, mask, value):
        self.mask, self.value = mask, value

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.where(self.mask, xp.asarray(self.value, dtype=x.dtype), x)

    def backward(self, gy, x):
        return MaskedFill(self.mask, 0)(gy)


def masked_fill(x, mask, value):
    """x with ``value`` written where the boolean ``mask`` (broadcastable to x) is true."""
    m = unwrap(mask)
    if not hasattr(m, "dtype") or m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill: only boolean masks are supported, got {getattr(m, 'dtype', type(m).__name__)}")
    try:
        ok = np.broadcast_shapes(m.shape, x.shape) == tuple(x.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(
            f"masked_fill: mask of shape {tuple(m.shape)} does not broadcast to the tensor's shape {tuple(x.shape)}"
        )
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-dim tensor, got shape {tuple(value.shape)}")
        if value.requires_grad:
            from minigrad.functions.elementwise import where
            return where(mask, value.astype(x.dtype), x)
        value = value.item()
    return MaskedFill(backend.to_device(m, x.device), value)(x)


def _triangle(x, diagonal, lower, op):
    if not isinstance(diagonal, int):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__}")
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have at least 2 dims, got shape {tuple(x.shape)}")
    xp = backend.get_array_module(unwrap(x))
    rows, cols = x.shape[-2:]
    below = xp.tri(rows, cols, k=diagonal if lower else diagonal - 1, dtype=bool)  # True on and below the diagonal
    return MaskedFill(~below if lower else below, 0)(x)


def tril(x, diagonal=0):
    """Keep the elements on and below the ``diagonal``-th diagonal, zero the rest."""
    return _triangle(x, diagonal, True, "tril")


def triu(x, diagonal=0):
    """Keep the elements on and above the ``diagonal``-th diagonal, zero the rest."""
    return _triangle(x, diagonal, False, "triu")


def one_hot(tensor, num_classes=-1):
    """int64 tensor with a trailing dim of ``num_classes``: 1 at each index, 0 elsewhere (F.one_hot)."""
    idx = unwrap(tensor)
    xp = backend.get_array_module(idx)
    if not hasattr(idx, "dtype") or idx.dtype != np.int64:
        got = getattr(idx, "dtype", type(idx).__name__)
        raise RuntimeError(f"one_hot: only int64 index tensors are supported, got {got}")
    if idx.size and int(idx.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(idx.max()) + 1
    if idx.size and int(idx.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {int(idx.max())}")
    return Tensor((idx[..., None] == xp.arange(num_classes)).astype(xp.int64))
