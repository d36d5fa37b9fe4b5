"""Mixed-precision training with float32 master weights and a float16/bfloat16 compute copy.

Micikevicius et al. 2018 ("Mixed Precision Training", ICLR, section 3.1): keep
the weights in float32 (the master copy the optimizer updates), run the forward
and backward passes on a float16 copy of them, and add the float16 weight
gradients into float32 before the update. The float32 master matters because
an update lr * g is often below half a float16 ulp of the weight it is added
to (a weight near 1 has a float16 spacing of 2^-10 ~ 1e-3): added in float16
it would be lost. Products may be taken in low precision; sums (the loss, the
update) are kept in float32 (section 3.3).

``ComputeCopy(module, dtype)`` does this without a second model: on every
forward call it casts each master Parameter to ``dtype`` through a
differentiable cast, so backward produces the gradient of the low-precision
copy and the cast's own backward converts it back to a float32 ``.grad`` on
the master (the optimizer never sees a float16 gradient). Floating inputs are
cast on the way in and the output is cast to float32 on the way out, so the
loss is computed in float32.

float16 runs on NumPy's (or CuPy's) float16 arrays. bfloat16 has no NumPy dtype:
values live in float32 arrays rounded to bf16 (see bfloat16.py); the weights,
the inputs and the output of every leaf module are rounded, and so is every
gradient flowing back through those points, which is where bf16 hardware
rounds too (it multiplies-and-adds inside a layer in float32).
"""
import numpy as np

from minigrad import functions as F
from minigrad.amp.bfloat16 import round_to_bfloat16
from minigrad.nn.module import Module
from minigrad.tensor import Function, Tensor

COMPUTE_DTYPES = ("float16", "bfloat16")


class RoundToBFloat16(Function):
    """Forward: round float32 values to bf16. Backward: round the gradient to bf16 as well."""

    def forward(self, x):
        return round_to_bfloat16(x)

    def backward(self, gy, x):
        return RoundToBFloat16()(gy)


def to_compute(x, dtype):
    """A float Tensor in the compute dtype, differentiably (its gradient comes back in x's dtype)."""
    if dtype == "float16":
        return F.cast(x, np.float16)
    if x.dtype != np.float32:
        x = F.cast(x, np.float32)
    return RoundToBFloat16()(x)


class ComputeCopy(Module):
    """``ComputeCopy(module, dtype="float16")``: run ``module`` in float16 or bfloat16 over its float32 weights.

    ``parameters()`` are the wrapped module's own float32 Parameters, so an
    optimizer built on either object updates the masters; gradients land on
    them in float32. Use with ``GradScaler`` for float16 (bf16 has float32's
    range and rarely needs loss scaling).
    """

    def __init__(self, module, dtype="float16"):
        super().__init__()
        dtype = _dtype_name(dtype)
        if dtype not in COMPUTE_DTYPES:
            raise ValueError(f"ComputeCopy: dtype must be one of {COMPUTE_DTYPES}, got {dtype!r}")
        for name, p in module.named_parameters():
            if p.dtype != np.float32:
                raise TypeError(f"ComputeCopy: master weights must be float32, parameter {name!r} is {p.dtype}")
        self.module = module
        self.dtype = dtype

    def forward(self, *inputs):
        inputs = [to_compute(x, self.dtype) if _is_float_tensor(x) else x for x in inputs]
        swapped = self._swap_in_compute_weights()
        try:
            out = self.module(*inputs)
        finally:
            _restore(swapped)
        return _float32_outputs(out)

    def _swap_in_compute_weights(self):
        """Replace every Parameter attribute by its compute-dtype cast; returns what to put back."""
        casts, swapped = {}, []
        for m in self.module.modules():
            for name, p in m._parameters.items():
                if id(p) not in casts:  # a shared weight is cast once, so its gradients add up
                    casts[id(p)] = to_compute(p, self.dtype)
                object.__setattr__(m, name, casts[id(p)])
                swapped.append((m, name, p))
            if self.dtype == "bfloat16" and not m._modules:
                object.__setattr__(m, "forward", _rounding_output(m.forward))
                swapped.append((m, "forward", None))
        return swapped

    def extra_repr(self):
        return f"dtype={self.dtype}"


def _dtype_name(dtype):
    """"float16" for np.float16 / "float16" / "half"; "bfloat16" as given; anything else as a string."""
    if dtype == "bfloat16":
        return dtype
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def _rounding_output(forward):
    def rounded(*args, **kwargs):
        out = forward(*args, **kwargs)
        return to_compute(out, "bfloat16") if _is_float_tensor(out) else out
    return rounded


def _float32_outputs(out):
    """The output in float32; a tuple or list (a model's ``(logits, loss)``) element by element, None kept."""
    if isinstance(out, (tuple, list)):
        return type(out)(_float32_outputs(o) for o in out)
    return F.cast(out, np.float32) if _is_float_tensor(out) else out


def _restore(swapped):
    for m, name, p in reversed(swapped):
        if p is None:
            del m.__dict__[name]
        else:
            object.__setattr__(m, name, p)


def _is_float_tensor(x):
    return isinstance(x, Tensor) and x.dtype.kind == "f"
