"""A CuPy stand-in for tests: ``device="cuda"`` without a GPU, to prove device hygiene.

minigrad's rule is that op code never names NumPy or CuPy: it asks
``xp = backend.get_array_module(x)``, and only ``minigrad/backend.py`` imports
CuPy. A slip (``np.add.at`` on what may be a device array, a host mask
multiplied into a device tensor, ``np.asarray`` of a device array) passes every
CPU test and fails, or silently moves data to the host, on the first GPU. No
GPU has been lent to this project's CI, so this package plays CuPy's part:
``install(monkeypatch)`` puts it in ``sys.modules`` as ``cupy``, ``cupy.cuda``,
``cupy.cuda.nccl``, ``cupyx``, ``cupyx.scipy`` and ``cupyx.scipy.special`` for
one test (``install()``: for the whole process, as scripts under mpiexec do).
The tests marked ``cuda`` (among them the ``device`` fixture's "cuda" case)
run on it whenever CuPy sees no real GPU (tests/conftest.py). It is never
imported by minigrad.

What it models. Its ``ndarray`` holds a NumPy array the rest of the program
cannot reach, in a class NumPy does not know, whose ``type().__module__`` is
"cupy" (which is how backend.py recognises CuPy arrays). Like a CuPy array:

* implicit conversion to NumPy raises TypeError (``np.asarray(x)``,
  ``np.array(x)``, a device array inside a host array) with CuPy's message;
  ``.get()``, ``asnumpy``, ``float()``, ``int()``, ``.item()``, ``.tolist()``
  are the explicit ways out;
* arithmetic with a host ``numpy.ndarray`` (also a 0-d one) raises TypeError,
  in either order (``x * mask``, ``mask * x``, ``x[...] = host``), while Python
  and NumPy scalars mix freely; host arrays and lists are accepted as indices,
  as CuPy copies them to the device;
* reductions and scalar indexing return 0-d device arrays, not NumPy scalars;
  ``flags`` has only CuPy's three fields (no ``writeable``);
  ``np.shape``/``np.ndim``/``np.size`` answer, as no data moves;
* NumPy ufuncs called directly (``np.exp(x)``) work on device arrays, as CuPy
  dispatches them; ufunc methods (``np.add.at``, ``np.add.reduce``...) and
  every other NumPy function (``np.where``, ``np.concatenate``...) applied to a
  device array raise TypeError. Real CuPy would dispatch many of those through
  NEP 13/18 and so hide the slip; minigrad's rule forbids them, so the stand-in
  is stricter than CuPy here, on purpose;
* the module functions (``zeros``, ``exp``, ``where``, ``linalg.solve``,
  ``random.default_rng``...) refuse host arrays as CuPy does, except
  ``asarray``/``array``, which copy host data to the "device" (a real copy:
  writes to one side never show on the other);
* ``empty`` and ``empty_like`` return NaN-filled (float) or max-filled (int)
  memory, so code that reads memory it did not write fails here as it would,
  by chance, on a GPU; ``cupyx.scatter_add``, ``cupyx.scipy.special.erf``,
  ``cuda.Stream``/``Device``/``synchronize`` (no-ops) and
  ``cuda.runtime.getDeviceCount()`` (``FAKECUPY_DEVICES``, default 1) are there;
* ``cuda.nccl`` keeps NCCL's calling convention (raw pointers from ``.data.ptr``,
  element counts, dtype and op codes, a shared unique id) and checks every
  pointer and count before MPI does the collective (fakecupy/nccl.py).

What it proves: every code path a test drives with ``device="cuda"`` keeps
device data on the device, and uses only functions that exist in the module
that ``get_array_module`` hands out (a missing one is an AttributeError here,
as most likely on CuPy). What it cannot prove: anything about CUDA itself. The
numbers are NumPy's, so float32 reductions, matmuls, ``exp`` etc. agree with the
CPU path bit for bit where a GPU would differ in the last bits; it says nothing
of speed, memory, kernel launches, streams or asynchrony (synchronize does
nothing, so a missing synchronize goes unnoticed), nothing of CUDA-aware MPI or
of NCCL's own transfers, and nothing of CuPy functions that exist but behave differently from
NumPy's. It models CuPy only as far as minigrad uses it: a function or method
it lacks may well exist in CuPy (add it here when minigrad starts using it).
Code paths that no ``cuda`` test drives are not checked at all.
"""
import sys

import numpy as np

from fakecupy import cuda, linalg, random  # cupy.cuda, cupy.linalg, cupy.random
from fakecupy._array import DeviceLeak, ndarray, unwrap, wrap
from fakecupy import cupyx

__all__ = ["ndarray", "DeviceLeak", "install", "asarray", "array", "asnumpy", "get_array_module"]

# NumPy names CuPy re-exports unchanged: types and constants
for _name in """bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64
        complex64 complex128 dtype finfo iinfo result_type can_cast pi e inf nan newaxis
        integer floating number signedinteger""".split():
    globals()[_name] = getattr(np, _name)

# Functions that compute on the device: host arrays refused, arrays in the result wrapped.
DEVICE_FUNCTIONS = """abs absolute add all allclose any arccos arcsin arctan arctan2 argmax argmin
    argsort array_equal ascontiguousarray broadcast_to ceil clip concatenate copyto cos cosh count_nonzero
    cumsum diag diagonal divide dot einsum equal exp expm1 expand_dims eye flip floor full full_like greater
    greater_equal isclose isfinite isinf isnan less less_equal linspace log log1p log2 logical_and
    logical_not logical_or matmul maximum mean minimum moveaxis multiply negative nonzero not_equal
    ones ones_like outer power prod ravel reciprocal repeat reshape rint round searchsorted sign
    sin sinh sort split sqrt square squeeze stack std subtract sum take tanh tensordot tile
    transpose tril triu true_divide unique var where zeros zeros_like""".split()


def _device_function(name):
    numpy_function = getattr(np, name)

    def call(*args, **kwargs):
        args = unwrap(args, f"cupy.{name}")
        kwargs = {k: unwrap(v, f"cupy.{name}") for k, v in kwargs.items()}
        return wrap(numpy_function(*args, **kwargs))
    call.__name__ = call.__qualname__ = name
    return call


for _name in DEVICE_FUNCTIONS:
    globals()[_name] = _device_function(_name)
del _name


def _garbage(host):
    host.fill(np.nan if host.dtype.kind in "fc" else (True if host.dtype.kind == "b" else np.iinfo(host.dtype).max))
    return ndarray(host)


def empty(shape, dtype=float, order="C"):
    """Uninitialised device memory: NaN (floats) or the largest value (ints), never a lucky 0."""
    return _garbage(np.empty(shape, dtype=dtype, order=order))


def empty_like(a, dtype=None, order="K", subok=None, shape=None):
    return _garbage(np.empty_like(unwrap(a, "cupy.empty_like"), dtype=dtype, order=order, shape=shape))


def arange(start, stop=None, step=1, dtype=None):
    return ndarray(np.arange(start, stop, step, dtype=dtype))


def _to_device(obj, dtype, copy):
    if type(obj) is ndarray:
        return ndarray(np.array(obj._host, dtype=dtype, copy=copy))
    if isinstance(obj, (list, tuple)) and any(type(v) is ndarray for v in obj):
        host = np.array([v._host if type(v) is ndarray else v for v in obj], dtype=dtype)
    else:
        host = np.array(obj, dtype=dtype, copy=True)    # host -> device: always a new buffer
    if host.dtype == object:
        raise ValueError(f"Unsupported dtype object: cupy.asarray got {type(obj).__name__} "
                         "that NumPy could only store as Python objects")
    return ndarray(host)


def asarray(a, dtype=None, order=None):
    """``a`` on the device: a device array as is (unless ``dtype`` differs), host data copied."""
    if type(a) is ndarray and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return _to_device(a, dtype, copy=False)


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    result = _to_device(obj, dtype, copy=True if copy else None)
    return result if ndmin <= result.ndim else result.reshape((1,) * (ndmin - result.ndim) + result.shape)


def asnumpy(a, stream=None, order="C", out=None):
    """A host copy of a device array; anything else through ``numpy.asarray``."""
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


def install(monkeypatch=None, with_nccl=True):
    """Make ``import cupy`` (and cupyx) give this stand-in until ``monkeypatch`` undoes it.

    Without ``monkeypatch`` (a script under mpiexec) it stays for the process.
    ``with_nccl=False`` plays a CuPy built without NCCL.
    """
    modules = {"cupy": sys.modules[__name__], "cupy.cuda": cuda, "cupyx": cupyx,
               "cupyx.scipy": cupyx.scipy, "cupyx.scipy.special": cupyx.scipy.special}
    if with_nccl:
        modules["cupy.cuda.nccl"] = cuda.nccl
    for name, module in modules.items():
        if monkeypatch is None:
            sys.modules[name] = module
        else:
            monkeypatch.setitem(sys.modules, name, module)
    if monkeypatch is None:
        cuda.nccl.available = with_nccl
    else:
        monkeypatch.setattr(cuda.nccl, "available", with_nccl)
