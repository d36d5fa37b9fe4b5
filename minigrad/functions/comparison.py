"""Comparisons and logical ops: boolean results, outside the graph (no gradient
flows through a comparison, as in PyTorch). ``&``, ``|``, ``^``, ``~`` are
logical on boolean tensors and bitwise on integer ones, as in PyTorch."""
from minigrad import backend
from minigrad.tensor import Tensor, unwrap


def _compare(op, ufunc_name, a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.device != b.device:
        raise RuntimeError(f"{op}: expected both tensors on one device, got {a.device} and {b.device}")
    ra, rb = unwrap(a), unwrap(b)
    xp = backend.get_array_module(ra if hasattr(ra, "dtype") else rb)
    try:
        return Tensor(xp.asarray(getattr(xp, ufunc_name)(ra, rb)))
    except (ValueError, TypeError) as err:
        raise RuntimeError(f"{op}: {err} (shapes {_shape(a)} and {_shape(b)})") from None


def _shape(x):
    return tuple(getattr(x, "shape", ()))


def _comparison(name, ufunc_name, integral=False):
    """The public function ``name(a, b)``: NumPy's ``ufunc_name`` as a boolean (or integer) tensor.
    ``integral`` ops (bitwise &, |, ^) refuse floating inputs first, as torch does."""

    def op(a, b):
        if integral:
            _integral(name, a, b)
        return _compare(name, ufunc_name, a, b)

    op.__name__ = op.__qualname__ = name.split()[0]
    return op


eq = _comparison("eq", "equal")
ne = _comparison("ne", "not_equal")
lt = _comparison("lt", "less")
le = _comparison("le", "less_equal")
gt = _comparison("gt", "greater")
ge = _comparison("ge", "greater_equal")
logical_and = _comparison("logical_and", "logical_and")
logical_or = _comparison("logical_or", "logical_or")
logical_xor = _comparison("logical_xor", "logical_xor")
bitwise_and = _comparison("bitwise_and (&)", "bitwise_and", integral=True)
bitwise_or = _comparison("bitwise_or (|)", "bitwise_or", integral=True)
bitwise_xor = _comparison("bitwise_xor (^)", "bitwise_xor", integral=True)


def logical_not(a):
    return Tensor(backend.get_array_module(a.data).logical_not(a.data))


def _integral(op, *xs):
    for x in xs:
        dtype = getattr(unwrap(x), "dtype", None)
        if dtype is not None and dtype.kind not in "biu":
            raise TypeError(f"{op}: only boolean and integer tensors are supported, got {dtype}")


def bitwise_not(a):
    _integral("bitwise_not (~)", a)
    return Tensor(backend.get_array_module(a.data).invert(a.data))
