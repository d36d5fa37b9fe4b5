"""Tensor and Function: the two classes the autograd engine is made of.

A ``Tensor`` wraps a raw array (``.data``, NumPy or CuPy) and remembers the
``Function`` that created it (``.creator``). Calling a Function on Tensors runs
``forward`` on their raw arrays and, when gradients are wanted, links the
output back to the inputs. That chain of links is the graph that
``Tensor.backward`` walks in reverse (see ``minigrad/autograd.py``).

Each Function writes its ``backward`` ONCE, with ordinary operators (``*``,
``@``, ``.sum``) and minigrad functions (``exp``, ``sum_to``...). The engine
calls it with raw arrays for a plain backward pass, so no graph is built and it
runs at NumPy speed; with ``create_graph=True`` it calls the very same code with
Tensors, so the backward pass is itself recorded and can be differentiated
again (double backward, Hessians, Newton's method). This is DeZero's design
(Saitoh, "Deep Learning from Scratch 3", steps 33-36) with one shortcut: a
minigrad function given only raw arrays returns a raw array.
"""
import weakref

import numpy as np

from minigrad import backend, config


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on arrays or Tensors.

    ``backward(gy, *inputs)`` receives the gradient of the output and the op's
    inputs (all raw arrays, or all Tensors) and returns one gradient per input
    (``None`` for inputs that need none). ``self.output_like(gy)`` gives the
    forward result in the same kind, for ops whose derivative uses it (exp, tanh).
    Ops with ``promotes = True`` (arithmetic) first bring their inputs to one
    dtype by PyTorch's promotion rules.
    """

    promotes = False

    def __call__(self, *inputs):
        for ref in inputs:
            if isinstance(ref, Tensor):
                break
        else:  # raw arrays in, raw array out: no graph
            return self.forward(*inputs)

        if len(inputs) > 1:
            inputs = tuple(x if isinstance(x, Tensor) else _constant(x, ref, self) for x in inputs)
            _check_same_device(self, inputs)
            if self.promotes and (len(inputs) > 2 or inputs[0].data.dtype != inputs[1].data.dtype):
                inputs = _promote(inputs)
        try:
            y = self.forward(*[t.data for t in inputs])
        except (ValueError, IndexError, TypeError, AttributeError) as error:
            raise _op_error(self, inputs, error) from error
        out = Tensor(y if type(y) is np.ndarray else _as_array(y, ref))
        if not config.grad_enabled:
            return out
        requires_grad, generation = False, 0
        for t in inputs:
            requires_grad |= t.requires_grad
            if t.creator is not None and t.creator.generation > generation:
                generation = t.creator.generation
        if requires_grad:  # record the link output -> self -> inputs
            self.inputs = inputs
            self.generation = generation + 1
            self.output_data = out.data
            self.output = weakref.ref(out)
            out.creator = self
            out.requires_grad = True
        return out

    @property
    def needs_grad(self):
        """Which inputs want a gradient (lets backward skip work, e.g. dX of the data batch)."""
        return tuple(t.requires_grad for t in self.inputs)

    def output_like(self, gy):
        """The forward result: a raw array, or the output Tensor when building a graph."""
        if not isinstance(gy, Tensor):
            return self.output_data
        out = self.output()
        if out is None:
            raise RuntimeError(f"{type(self).__name__}: its output was freed before the double backward")
        return out

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy, *xs):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def __repr__(self):
        return f"<{type(self).__name__} generation={getattr(self, 'generation', None)}>"


class ShapeError(ValueError, RuntimeError):
    """Inputs whose shapes do not fit the op. Both a ValueError (NumPy's kind) and a
    RuntimeError (PyTorch's kind), so code written for either catches it."""


def _op_error(fn, inputs, error):
    """The error NumPy raised inside ``fn.forward``, re-raised with the op's name and
    its inputs' shapes and dtypes: "add: operands could not be broadcast ... (inputs: (2, 3) float32, (4,) float32)".
    This is the one place bad input to any op gets named."""
    name = type(fn).__name__.lower()
    message = str(error)
    if message.startswith(f"{name}:"):
        return error
    described = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)
    text = f"{name}: {message} (inputs: {described})"
    if type(error) is ValueError:
        return ShapeError(text)
    try:
        renamed = type(error)(text)
        if str(renamed) == text:
            return renamed
    except Exception:  # NumPy's own error types take other constructor arguments
        pass
    for kind in (IndexError, TypeError, ValueError):
        if isinstance(error, kind):
            return kind(text)
    return TypeError(text)


def _constant(x, ref, fn):
    """Wrap a Python number or raw array as a Tensor on ``ref``'s device (for the op ``fn``).

    A Python number takes ``ref``'s dtype when it is of the same kind or a lower
    one (float32 tensor * 2.0 stays float32, int32 tensor + 1 stays int32), else
    the default dtype of its own kind (int tensor * 0.5 is float32), as in PyTorch.
    """
    xp = backend.get_array_module(ref.data)
    if isinstance(x, (bool, int, float)):
        kind = ref.data.dtype.kind
        if isinstance(x, bool) or (isinstance(x, int) and kind in "iuf") or (isinstance(x, float) and kind in "fc"):
            return Tensor(xp.asarray(x, dtype=ref.data.dtype))
        return Tensor(xp.asarray(x, dtype=config.default_dtype if isinstance(x, float) else np.int64))
    array = xp.asarray(x)
    if array.dtype.kind not in "biufc":  # None, strings, objects
        raise TypeError(f"{type(fn).__name__.lower()}: unsupported operand {type(x).__name__} {x!r}; "
                        "tensors hold booleans or numbers")
    return Tensor(array)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def result_type(*tensors):
    """PyTorch's type promotion: the highest kind (bool < int < float) wins; within a kind
    the wider dtype wins; a 0-d tensor (or Python number) only decides the dtype when its
    kind is higher than every tensor with dims (float32 tensor + float64 scalar is float32)."""
    best = {}
    for t in tensors:
        dtype, zero_dim = t.data.dtype, t.data.ndim == 0
        cur = best.get(zero_dim)
        if cur is None or _CATEGORY[dtype.kind] > _CATEGORY[cur.kind]:
            best[zero_dim] = dtype
        elif _CATEGORY[dtype.kind] == _CATEGORY[cur.kind]:
            best[zero_dim] = np.promote_types(cur, dtype)
    dims, zero = best.get(False), best.get(True)
    if dims is None or (zero is not None and _CATEGORY[zero.kind] > _CATEGORY[dims.kind]):
        return zero
    return dims


def _promote(inputs):
    first = inputs[0].data.dtype
    for t in inputs:
        if t.data.dtype != first:
            dtype = result_type(*inputs)
            return tuple(t if t.data.dtype == dtype else _F.cast(t, dtype) for t in inputs)
    return inputs


def _as_array(y, ref):
    """NumPy returns 0-d results as scalars; make them arrays again."""
    if backend.is_cupy_array(y):  # already a device array (ToDevice from the CPU)
        return y
    return backend.get_array_module(ref.data).asarray(y)


def _check_same_device(fn, tensors):
    first = type(tensors[0].data)
    if all(type(t.data) is first for t in tensors):
        return
    devices = [t.device for t in tensors]
    if len(set(devices)) > 1:
        raise RuntimeError(
            f"{type(fn).__name__}: expected all tensors on one device, got {', '.join(devices)}"
        )


def _check_array(data):
    if isinstance(data, np.generic):  # NumPy hands back 0-d results as scalars
        return np.asarray(data)
    if isinstance(data, np.ndarray) or backend.is_cupy_array(data):
        return data
    raise TypeError(f"Tensor: data must be a numpy or cupy array, got {type(data).__name__}; use minigrad.tensor()")


def check_dtype(dtype, requires_grad, op="tensor"):
    """Numbers only (no strings or Python objects); only floating tensors may require gradients."""
    if dtype.kind not in "biufc":
        raise TypeError(f"{op}: unsupported dtype {dtype}; a tensor holds booleans or numbers")
    if requires_grad and dtype.kind not in "fc":
        raise RuntimeError(
            f"{op}: only tensors of floating point dtype can require gradients, got dtype {dtype}"
        )


class Tensor:
    """An n-dimensional array that can record how it was computed."""

    __slots__ = ("data", "_grad", "creator", "requires_grad", "_grad_hooks", "_post_accumulate_hooks",
                 "__weakref__")
    __array_ufunc__ = None  # ``ndarray * Tensor`` defers to ``Tensor.__rmul__``

    def __init__(self, data, requires_grad=False):
        if type(data) is not np.ndarray:
            data = _check_array(data)
        if requires_grad or data.dtype.kind not in "biuf":
            check_dtype(data.dtype, requires_grad, "Tensor")
        self.data = data
        self._grad = None
        self.creator = None
        self.requires_grad = requires_grad
        self._grad_hooks = self._post_accumulate_hooks = None  # see autograd/engine.py

    @property
    def grad(self):
        """The accumulated gradient (a Tensor) or None; assignable only with this tensor's shape, dtype and device."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape or value.dtype != self.dtype or value.device != self.device:
                raise RuntimeError(
                    f"grad: assigned grad of shape {tuple(value.shape)}, dtype {value.dtype}, device "
                    f"{value.device} does not match the tensor's shape {tuple(self.shape)}, dtype "
                    f"{self.dtype}, device {self.device}"
                )
        self._grad = value

    # ---- properties -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def T(self):
        """All dims reversed (the transpose of a matrix), as torch's ``.T``."""
        return self if self.data.ndim < 2 else _F.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two dims swapped: a batch of transposed matrices."""
        if self.data.ndim < 2:
            raise RuntimeError(f"mT: needs at least 2 dims, got shape {tuple(self.shape)}")
        return _F.transpose(self, -2, -1)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        """The sub-tensors along dim 0 (``for row in x``), as torch; a 0-d tensor has none to give."""
        if self.data.ndim == 0:
            raise TypeError("iter: iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        extra += ", device='cuda'" if self.device == "cuda" else ""
        return f"tensor({body}{extra})"

    # ---- conversion -------------------------------------------------
    def numpy(self):
        """The values as a host ``numpy.ndarray`` (copied from the GPU if needed)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def to(self, device=None, dtype=None):
        """A copy on ``device`` ("cpu" or "cuda") and/or of ``dtype``; differentiable like PyTorch's ``.to``.

        As in torch, ``x.to(torch_style_dtype)`` alone is accepted too: ``x.to(np.float64)``."""
        if device is not None and not isinstance(device, str):
            device, dtype = None, device  # x.to(dtype)
        out = self if dtype is None else _F.cast(self, dtype)
        if device is None or backend.check_device(device) == out.device:
            return out
        return _F.to_device(out, device)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        return _F.cast(self, dtype)

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype (differentiable)."""
        return _F.cast(self, other.dtype)

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def half(self):
        return self.astype(np.float16)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad")
        check_dtype(self.dtype, flag, "requires_grad_")
        self.requires_grad = flag
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    # ---- autograd ---------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch semantics and argument names)."""
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient in every backward pass; returns a handle.

        A non-None result replaces the gradient (for a leaf: before it is added to
        ``.grad``). ``handle.remove()`` unregisters it. PyTorch's semantics and order.
        """
        return _autograd.engine.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` right after this leaf's ``.grad`` was updated; returns a handle."""
        return _autograd.engine.register_post_accumulate_grad_hook(self, hook)

    # ---- arithmetic -------------------------------------------------
    def __add__(self, other):
        return _F.add(self, other)

    def __radd__(self, other):
        return _F.add(other, self)

    def __sub__(self, other):
        return _F.sub(self, other)

    def __rsub__(self, other):
        return _F.sub(other, self)

    def __mul__(self, other):
        return _F.mul(self, other)

    def __rmul__(self, other):
        return _F.mul(other, self)

    def __truediv__(self, other):
        return _F.div(self, other)

    def __rtruediv__(self, other):
        return _F.div(other, self)

    def __neg__(self):
        return _F.neg(self)

    def __pow__(self, exponent):
        return _F.pow(self, exponent)

    def __rpow__(self, base):
        return _F.pow(base, self)

    def __matmul__(self, other):
        return _F.matmul(self, other)

    def __rmatmul__(self, other):
        return _F.matmul(other, self)

    def __getitem__(self, index):
        return _F.getitem(self, index)

    def __setitem__(self, index, value):
        raise TypeError(
            "setitem: minigrad has no in-place ops (x[index] = value), so a tensor saved for backward never "
            "changes under autograd; write x = x.masked_fill(mask, value) or x = minigrad.where(mask, value, x)"
        )

    # ---- comparison and logic: boolean tensors, no gradient --------
    # ``==`` is element-wise as in PyTorch; tensors still hash by identity, so they
    # work as dict keys and in sets (``tensor in list`` compares by identity first).
    __hash__ = object.__hash__

    def __eq__(self, other):
        return _F.eq(self, other) if _comparable(other) else NotImplemented

    def __ne__(self, other):
        return _F.ne(self, other) if _comparable(other) else NotImplemented

    def __lt__(self, other):
        return _F.lt(self, other)

    def __le__(self, other):
        return _F.le(self, other)

    def __gt__(self, other):
        return _F.gt(self, other)

    def __ge__(self, other):
        return _F.ge(self, other)

    def __and__(self, other):
        return _F.bitwise_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _F.bitwise_or(self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _F.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __invert__(self):
        return _F.bitwise_not(self)

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool: a tensor of shape {tuple(self.shape)} has more than one value; use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(
                f"index: only one-element integer tensors can be used as an index, got {self.dtype} {tuple(self.shape)}"
            )
        return int(self.item())

    def eq(self, other):
        return _F.eq(self, other)

    def ne(self, other):
        return _F.ne(self, other)

    def logical_and(self, other):
        return _F.logical_and(self, other)

    def logical_or(self, other):
        return _F.logical_or(self, other)

    def logical_not(self):
        return _F.logical_not(self)

    def logical_xor(self, other):
        return _F.logical_xor(self, other)

    def any(self, dim=None, keepdim=False):
        return Tensor(self.data.astype(bool).any(axis=dim, keepdims=keepdim))

    def all(self, dim=None, keepdim=False):
        return Tensor(self.data.astype(bool).all(axis=dim, keepdims=keepdim))

    # ---- reductions (dim/keepdim as torch; axis/keepdims accepted) --
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _F.sum(self, dim if axis is None else axis, keepdim or keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _F.mean(self, dim if axis is None else axis, keepdim or keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _F.amax(self, dim if axis is None else axis, keepdim or keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _F.amin(self, dim if axis is None else axis, keepdim or keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """max(): the largest element; max(dim): (values, indices); max(other): maximum."""
        return _F.max(self, dim if axis is None else axis, keepdim or keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _F.min(self, dim if axis is None else axis, keepdim or keepdims)

    def argmax(self, dim=None, keepdim=False):
        return _F.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _F.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _F.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _F.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim, keepdim=False):
        return _F.logsumexp(self, dim, keepdim)

    def softmax(self, dim):
        return _F.softmax(self, dim)

    def log_softmax(self, dim):
        return _F.log_softmax(self, dim)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _F.topk(self, k, dim, largest, sorted)

    def sort(self, dim=-1, descending=False):
        return _F.sort(self, dim, descending)

    def cumsum(self, dim):
        return _F.cumsum(self, dim)

    # ---- shape ------------------------------------------------------
    def size(self, dim=None):
        """The shape (a tuple), or the length of one dim."""
        return self.data.shape if dim is None else self.data.shape[_dim_index(dim, self.data.shape, "size")]

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    def reshape(self, *shape):
        return _F.reshape(self, _sizes(shape))

    def view(self, *shape):
        """reshape; minigrad has no shared storage, so a view is a reshaped copy when NumPy needs one."""
        return _F.reshape(self, _sizes(shape))

    def view_as(self, other):
        return _F.reshape(self, other.shape)

    def transpose(self, dim0, dim1):
        return _F.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _F.permute(self, _sizes(dims))

    def unsqueeze(self, dim):
        return _F.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _F.squeeze(self, dim)

    def flatten(self, start_dim=0, end_dim=-1):
        return _F.flatten(self, start_dim, end_dim)

    def expand(self, *sizes):
        return _F.expand(self, *sizes)

    def expand_as(self, other):
        return _F.expand_as(self, other)

    def repeat(self, *sizes):
        return _F.repeat(self, *sizes)

    def contiguous(self):
        return self

    def clone(self):
        return _F.clone(self)

    def split(self, split_size_or_sections, dim=0):
        return _F.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _F.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return _F.gather(self, dim, index)

    def masked_fill(self, mask, value):
        return _F.masked_fill(self, mask, value)

    def tril(self, diagonal=0):
        return _F.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _F.triu(self, diagonal)

    # ---- element-wise -------------------------------------------------
    def exp(self):
        return _F.exp(self)

    def log(self):
        return _F.log(self)

    def sqrt(self):
        return _F.sqrt(self)

    def rsqrt(self):
        return _F.rsqrt(self)

    def abs(self):
        return _F.abs(self)

    __abs__ = abs

    def sin(self):
        return _F.sin(self)

    def cos(self):
        return _F.cos(self)

    def tanh(self):
        return _F.tanh(self)

    def sigmoid(self):
        return _F.sigmoid(self)

    def relu(self):
        return _F.relu(self)

    def pow(self, exponent):
        return _F.pow(self, exponent)

    def maximum(self, other):
        return _F.maximum(self, other)

    def minimum(self, other):
        return _F.minimum(self, other)

    def clamp(self, min=None, max=None):
        return _F.clamp(self, min, max)

    clip = clamp

    def where(self, condition, other):
        """torch's ``x.where(cond, y)``: x where cond holds, y elsewhere."""
        return _F.where(condition, self, other)


def unwrap(x):
    """The raw array inside a Tensor; anything else is returned as it is."""
    return x.data if isinstance(x, Tensor) else x


def _comparable(other):
    return isinstance(other, (Tensor, bool, int, float, complex, np.ndarray, np.generic)) or backend.is_cupy_array(other)


# Bound last because both modules import Tensor/Function from this one.
from minigrad import autograd as _autograd  # noqa: E402
from minigrad import functions as _F  # noqa: E402
from minigrad.functions.dims import dim_index as _dim_index, sizes_arg as _sizes  # noqa: E402
