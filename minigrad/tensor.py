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
    """

    def __call__(self, *inputs):
        for ref in inputs:
            if isinstance(ref, Tensor):
                break
        else:  # raw arrays in, raw array out: no graph
            return self.forward(*inputs)

        if len(inputs) > 1:
            inputs = tuple(x if isinstance(x, Tensor) else _constant(x, ref) for x in inputs)
            _check_same_device(self, inputs)
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


def _constant(x, ref):
    """Wrap a Python number or raw array as a Tensor on ``ref``'s device."""
    xp = backend.get_array_module(ref.data)
    if isinstance(x, (bool, int, float)) and ref.data.dtype.kind == "f":
        return Tensor(xp.asarray(x, dtype=ref.data.dtype))
    return Tensor(xp.asarray(x))


def _as_array(y, ref):
    """NumPy returns 0-d results as scalars; make them arrays again."""
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
    def size(self):
        return self.data.size

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def T(self):
        return _F.transpose(self)

    def __len__(self):
        return len(self.data)

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

    def to(self, device):
        """A copy on ``device`` ("cpu" or "cuda"); differentiable like PyTorch's ``.to``."""
        if backend.check_device(device) == self.device:
            return self
        return _F.to_device(self, device)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        return _F.cast(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

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
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch semantics)."""
        _autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

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

    # Comparisons give constant boolean tensors (no gradient flows through them).
    # ``==`` is left alone so tensors stay hashable, as in Python containers.
    def __lt__(self, other):
        return Tensor(self.data < unwrap(other))

    def __le__(self, other):
        return Tensor(self.data <= unwrap(other))

    def __gt__(self, other):
        return Tensor(self.data > unwrap(other))

    def __ge__(self, other):
        return Tensor(self.data >= unwrap(other))

    # ---- methods mirroring the functions ----------------------------
    def sum(self, axis=None, keepdims=False):
        return _F.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _F.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _F.max(self, axis, keepdims)

    def reshape(self, *shape):
        return _F.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def transpose(self, *axes):
        return _F.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))

    def permute(self, *axes):
        """PyTorch's name for a transpose with an explicit axis order."""
        return self.transpose(*axes)

    def exp(self):
        return _F.exp(self)

    def log(self):
        return _F.log(self)

    def sqrt(self):
        return _F.sqrt(self)

    def tanh(self):
        return _F.tanh(self)

    def sigmoid(self):
        return _F.sigmoid(self)

    def relu(self):
        return _F.relu(self)

    def clip(self, lo=None, hi=None):
        return _F.clip(self, lo, hi)


def unwrap(x):
    """The raw array inside a Tensor; anything else is returned as it is."""
    return x.data if isinstance(x, Tensor) else x


# Bound last because both modules import Tensor/Function from this one.
from minigrad import autograd as _autograd  # noqa: E402
from minigrad import functions as _F  # noqa: E402
