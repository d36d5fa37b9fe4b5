"""The stand-in's ``ndarray``: a NumPy array locked inside a class NumPy does not know.

Device memory is modelled by a private host array ``_host``. Every way out of it
that CuPy forbids or that minigrad's rules forbid raises ``TypeError``; every way
CuPy allows (``.get()``, ``asnumpy``, ``float()``, ``.item()``, operators with
other device arrays or scalars) computes with NumPy and wraps the result again.
"""
import numpy as np

from fakecupy import cuda, nccl

SCALARS = (bool, int, float, complex, np.generic)
METADATA_FUNCTIONS = {np.shape, np.ndim, np.size}


class DeviceLeak(TypeError):
    """A host/device mix-up that the stand-in refuses (a TypeError, as in CuPy)."""


def unwrap(value, what):
    """The host array behind a device array; scalars pass; a host array is a leak."""
    if type(value) is ndarray:
        return value._host
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v, what) for v in value)
    if isinstance(value, np.ndarray):
        raise DeviceLeak(f"{what}: got a host numpy.ndarray {value.shape} {value.dtype} where a "
                         "device array or a scalar is needed (CuPy raises 'Unsupported type "
                         "numpy.ndarray'); move it with xp.asarray / backend.to_device first")
    return value


def wrap(value):
    """Device arrays for every array or NumPy scalar a computation returns (CuPy returns 0-d arrays)."""
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic):
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def _index(key):
    """An index as NumPy wants it. CuPy copies host index arrays and lists to the device; so do we."""
    if type(key) is ndarray:
        return key._host
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key


class MemoryPointer:
    """``ndarray.data``: where the array starts in device memory (``ptr``), as NCCL takes it."""

    def __init__(self, host):
        self.ptr = nccl.register(host)


MemoryPointer.__module__ = "cupy.cuda.memory"


class Flags:
    """CuPy's flags: contiguity and ownership only (no ``writeable``: device arrays are always writable)."""

    def __init__(self, numpy_flags):
        self.c_contiguous = numpy_flags.c_contiguous
        self.f_contiguous = numpy_flags.f_contiguous
        self.owndata = numpy_flags.owndata

    def __getitem__(self, name):
        names = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous", "OWNDATA": "owndata"}
        if name not in names:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, names[name])


OPERANDS = (np.ndarray,) + SCALARS     # anything else (a Tensor) gets its reflected operator


def _binary(ufunc):
    def forward(self, other):
        if not isinstance(other, OPERANDS + (ndarray,)):
            return NotImplemented
        return wrap(ufunc(self._host, unwrap(other, f"ndarray {ufunc.__name__}")))

    def reflected(self, other):
        if not isinstance(other, OPERANDS):
            return NotImplemented
        return wrap(ufunc(unwrap(other, f"ndarray {ufunc.__name__}"), self._host))

    def in_place(self, other):
        if not isinstance(other, OPERANDS + (ndarray,)):
            return NotImplemented
        ufunc(self._host, unwrap(other, f"ndarray {ufunc.__name__}="), out=self._host)
        return self

    return forward, reflected, in_place


def _method(name):
    def call(self, *args, **kwargs):
        args, kwargs = unwrap(args, f"ndarray.{name}"), {k: unwrap(v, f"ndarray.{name}") for k, v in kwargs.items()}
        return wrap(getattr(self._host, name)(*args, **kwargs))
    call.__name__ = name
    return call


# ndarray methods that compute on the device in CuPy (result wrapped), by name
DEVICE_METHODS = """all any argmax argmin argsort astype clip conj copy cumprod cumsum diagonal dot
    flatten max mean min nonzero prod ravel repeat reshape round sort squeeze std sum swapaxes take
    transpose var view""".split()


class ndarray:
    """A device array of the stand-in (see the package docstring for what it models)."""

    __slots__ = ("_host",)
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, host):
        self._host = host

    # --- metadata: plain attributes, no data moves
    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    ndim = property(lambda self: self._host.ndim)
    size = property(lambda self: self._host.size)
    nbytes = property(lambda self: self._host.nbytes)
    itemsize = property(lambda self: self._host.itemsize)
    strides = property(lambda self: self._host.strides)
    flags = property(lambda self: Flags(self._host.flags))
    base = property(lambda self: None if self._host.base is None else ndarray(self._host.base))
    T = property(lambda self: ndarray(self._host.T))
    real = property(lambda self: ndarray(self._host.real))
    imag = property(lambda self: ndarray(self._host.imag))
    device = property(lambda self: cuda.Device())
    data = property(lambda self: MemoryPointer(self._host))

    # --- the explicit ways to the host that CuPy offers
    def get(self, stream=None, order="C", out=None):
        """A host copy (CuPy: device -> host transfer)."""
        if out is not None:
            out[...] = self._host
            return out
        return np.array(self._host, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy the host array ``arr`` into this device array."""
        if arr.shape != self.shape:
            raise ValueError(f"ndarray.set: shape {arr.shape} differs from {self.shape}")
        self._host[...] = arr

    def item(self, *args):
        return self._host.item(*args)

    def tolist(self):
        return self._host.tolist()

    def tobytes(self, order="C"):
        return self._host.tobytes(order)

    def fill(self, value):
        self._host.fill(unwrap(value, "ndarray.fill"))

    def __int__(self):
        return int(self._host)

    def __float__(self):
        return float(self._host)

    def __complex__(self):
        return complex(self._host)

    def __bool__(self):
        return bool(self._host)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._host)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._host)))

    def __repr__(self):
        return repr(self._host)

    def __str__(self):
        return str(self._host)

    def __format__(self, spec):
        return format(self._host, spec)

    def __reduce__(self):
        from fakecupy import array
        return array, (self.get(),)

    # --- what CuPy refuses, and what minigrad's rules refuse
    def __array__(self, dtype=None, copy=None):
        raise DeviceLeak("Implicit conversion to a NumPy array is not allowed. "
                         "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__":
            raise DeviceLeak(f"numpy.{ufunc.__name__}.{method} applied to a device array: minigrad "
                             "routes this through backend (e.g. backend.scatter_add for add.at)")
        if "out" in kwargs:
            kwargs["out"] = unwrap(kwargs["out"], f"numpy.{ufunc.__name__}")
        return wrap(ufunc(*unwrap(inputs, f"numpy.{ufunc.__name__}"), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if func in METADATA_FUNCTIONS:    # no data moves: CuPy answers these too
            return func(*unwrap(args, func.__name__), **kwargs)
        raise DeviceLeak(f"numpy.{func.__name__} called on a device array: op code must use "
                         f"xp = backend.get_array_module(x) and call xp.{func.__name__}")

    # --- indexing: views stay views, as in NumPy and CuPy
    def __getitem__(self, key):
        return wrap(self._host[_index(key)])

    def __setitem__(self, key, value):
        self._host[_index(key)] = unwrap(value, "ndarray.__setitem__")

    # --- operators
    __add__, __radd__, __iadd__ = _binary(np.add)
    __sub__, __rsub__, __isub__ = _binary(np.subtract)
    __mul__, __rmul__, __imul__ = _binary(np.multiply)
    __truediv__, __rtruediv__, __itruediv__ = _binary(np.true_divide)
    __floordiv__, __rfloordiv__, __ifloordiv__ = _binary(np.floor_divide)
    __mod__, __rmod__, __imod__ = _binary(np.remainder)
    __pow__, __rpow__, __ipow__ = _binary(np.power)
    __matmul__, __rmatmul__, _ = _binary(np.matmul)
    __and__, __rand__, __iand__ = _binary(np.bitwise_and)
    __or__, __ror__, __ior__ = _binary(np.bitwise_or)
    __xor__, __rxor__, __ixor__ = _binary(np.bitwise_xor)
    __lshift__, __rlshift__, __ilshift__ = _binary(np.left_shift)
    __rshift__, __rrshift__, __irshift__ = _binary(np.right_shift)
    __eq__, _, _ = _binary(np.equal)
    __ne__, _, _ = _binary(np.not_equal)
    __lt__, _, _ = _binary(np.less)
    __le__, _, _ = _binary(np.less_equal)
    __gt__, _, _ = _binary(np.greater)
    __ge__, _, _ = _binary(np.greater_equal)
    del _

    def __neg__(self):
        return ndarray(-self._host)

    def __pos__(self):
        return ndarray(+self._host)

    def __abs__(self):
        return ndarray(abs(self._host))

    def __invert__(self):
        return ndarray(~self._host)


for _name in DEVICE_METHODS:
    setattr(ndarray, _name, _method(_name))
del _name
# minigrad's backend recognises CuPy arrays by the module their type comes from
ndarray.__module__ = "cupy"
ndarray.__qualname__ = ndarray.__name__ = "ndarray"
