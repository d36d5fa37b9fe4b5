"""In-place array updates shared by the optimizers: no temporaries, as few memory passes as possible.

An optimizer step on a large model is limited by memory traffic, not arithmetic.
``p -= lr * g`` reads g, writes a temporary ``lr * g``, then reads p and the
temporary and writes p: five array-sized transfers and a fresh allocation, where
``torch``'s ``p.add_(g, alpha=-lr)`` needs three. NumPy has no fused
multiply-add ufunc, but BLAS does: ``axpy`` (y <- alpha * x + y, Lawson et al.
1979, the level-1 BLAS) makes one pass. ``axpy_`` uses it on the CPU when SciPy's
BLAS wrappers are installed and the arrays allow it, and falls back to two NumPy
passes otherwise (CuPy arrays, half precision, no SciPy); the result is the
same up to rounding (BLAS may fuse the multiply and the add).

An update rule makes several passes (Adam: about ten). Made over a whole 50 MB
tensor, each pass streams it from main memory again. ``blocks`` cuts the tensors
of one update into matching stretches of ``BLOCK`` elements, small enough that a
few of them stay in the CPU's cache while the rule makes all its passes over one
stretch: main memory then sees each array about once per step (cache blocking,
the idea behind tiled matrix multiplication; Lam, Rothberg & Wolf 1991).
"""
import functools

from minigrad import backend

# Elements per block: 1 MiB per float32 array, so the 4-6 arrays of one update stay in the last-level cache,
# while the Python loop over blocks stays cheap (48 blocks for a 12.6 M-parameter model). Measured best of 2^14..2^20.
BLOCK = 1 << 18


@functools.cache
def _blas_axpy():
    """{dtype: axpy} from SciPy's BLAS, or {} without SciPy (imported on first use, not with minigrad)."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return {}
    import numpy
    return {numpy.dtype(numpy.float32): blas.saxpy, numpy.dtype(numpy.float64): blas.daxpy}


def axpy_(y, alpha, x):
    """y <- y + alpha * x in place; ``x`` and ``y`` have the same shape. Returns ``y``."""
    if alpha == 1:          # a plain add is already one pass in NumPy
        y += x
        return y
    if alpha == -1:
        y -= x
        return y
    axpy = None
    if not backend.is_cupy_array(y) and y.flags.c_contiguous and x.dtype == y.dtype and y.size:
        axpy = _blas_axpy().get(y.dtype)
    if axpy is None:
        y += alpha * x
        return y
    flat_y = y.reshape(-1)                       # a view, since y is C-contiguous
    out = axpy(x.reshape(-1), flat_y, a=alpha)   # BLAS overwrites flat_y and returns it
    if out is not flat_y:
        raise RuntimeError("axpy_: SciPy's BLAS wrapper returned a copy instead of updating in place")
    return y


def blocks(*arrays):
    """Yield tuples of matching views, BLOCK elements of each array at a time, covering them all.

    Arrays that are small, not C-contiguous, or on a GPU (where the kernels
    stream anyway) come back whole, as a single block.
    """
    first = arrays[0]
    if first.size <= BLOCK or backend.is_cupy_array(first) or not all(a.flags.c_contiguous for a in arrays):
        yield arrays
        return
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, first.size, BLOCK):
        yield tuple(a[start:start + BLOCK] for a in flat)
