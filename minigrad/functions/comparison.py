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


def eq(a, b):
    return _compare("eq", "equal", a, b)


def ne(a, b):
    return _compare("ne", "not_equal", a, b)


def lt(a, b):
    return _compare("lt", "less", a, b)


def le(a, b):
    return _compare("le", "less_equal", a, b)


def gt(a, b):
    return _compare("gt", "greater", a, b)


def ge(a, b):
    return _compare("ge", "greater_equal", a, b)


def logical_and(a, b):
    return _compare("logical_and", "logical_and", a, b)


def logical_or(a, b):
    return _compare("logical_or", "logical_or", a, b)


def logical_xor(a, b):
    return _compare("logical_xor", "logical_xor", a, b)


def logical_not(a):
    return Tensor(backend.get_array_module(a.data).logical_not(a.data))


def _integral(op, *xs):
    for x in xs:
        dtype = getattr(unwrap(x), "dtype", None)
        if dtype is not None and dtype.kind not in "biu":
            raise TypeError(f"{op}: only boolean and integer tensors are supported, got {dtype}")


def bitwise_and(a, b):
    _integral("bitwise_and (&)", a, b)
    return _compare("bitwise_and (&)", "bitwise_and", a, b)


def bitwise_or(a, b):
    _integral("bitwise_or (|)", a, b)
    return _compare("bitwise_or (|)", "bitwise_or", a, b)


def bitwise_xor(a, b):
    _integral("bitwise_xor (^)", a, b)
    return _compare("bitwise_xor (^)", "bitwise_xor", a, b)


def bitwise_not(a):
    _integral("bitwise_not (~)", a)
    return Tensor(backend.get_array_module(a.data).invert(a.data))
