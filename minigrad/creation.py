"""Ways to make a new leaf Tensor: from data, or filled with zeros, ones, noise or a range."""
import numpy as np

from minigrad import backend, config
from minigrad.functions.dims import sizes_arg
from minigrad.tensor import Tensor, check_dtype


def _infer_dtype(data, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)) or backend.is_cupy_array(data):
        return data.dtype
    probe = np.asarray(data)
    return config.default_dtype if probe.dtype == np.float64 else probe.dtype


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new leaf Tensor. Python floats get the default dtype; NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.array_module(device)
    array = backend.to_device(data, device) if hasattr(data, "__array__") or backend.is_cupy_array(data) else data
    try:
        array = xp.array(array, dtype=_infer_dtype(data, dtype), copy=True)
    except (ValueError, TypeError) as error:  # ragged nesting, strings for a numeric dtype...
        raise type(error)(f"tensor: cannot make a tensor from this data ({error})") from None
    if array.dtype == object and isinstance(data, (list, tuple)):  # [tensor(1.), tensor(2.)], as torch takes
        numbers, tensors_dtype = _from_tensors(data)
        if tensors_dtype is not None:  # it held tensors; anything else (None, objects) is refused below
            return tensor(numbers, dtype or tensors_dtype, device, requires_grad)
    check_dtype(array.dtype, requires_grad)
    return Tensor(array, requires_grad=requires_grad)


def _from_tensors(data):
    """Nested lists holding one-element tensors as Python numbers, and the dtype those tensors share."""
    dtypes = []

    def number(v):
        if isinstance(v, (list, tuple)):
            return [number(u) for u in v]
        if isinstance(v, Tensor):
            if v.data.size != 1:
                raise ValueError(f"tensor: only one-element tensors can be converted to numbers, got shape {v.shape}")
            dtypes.append(v.dtype)
            return v.item()
        if not isinstance(v, (bool, int, float, np.generic)):  # None would silently become nan
            raise TypeError(f"tensor: cannot make a tensor from a list holding {type(v).__name__}")
        return v

    numbers = number(data)
    return numbers, (np.result_type(*dtypes) if dtypes else None)


def _shape(shape, op="tensor"):
    """``(2, 3)`` from ``zeros(2, 3)`` or ``zeros((2, 3))``; every size a non-negative int, as torch demands."""
    return check_sizes(sizes_arg(shape), op)


def check_sizes(shape, op):
    for n in shape:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be integers, got {shape}")
        if n < 0:
            raise RuntimeError(f"{op}: trying to create a tensor with negative dimension {n}: {list(shape)}")
    return shape


def zeros(*shape, dtype=None, device="cpu", requires_grad=False):
    shape = _shape(shape, "zeros")
    xp = backend.array_module(device)
    return Tensor(xp.zeros(shape, dtype=dtype or config.default_dtype), requires_grad)


def ones(*shape, dtype=None, device="cpu", requires_grad=False):
    shape = _shape(shape, "ones")
    xp = backend.array_module(device)
    return Tensor(xp.ones(shape, dtype=dtype or config.default_dtype), requires_grad)


def randn(*shape, dtype=None, device="cpu", requires_grad=False):
    """Standard normal samples from the stream that ``manual_seed`` resets."""
    shape = _shape(shape, "randn")
    values = config.rng.standard_normal(shape).astype(dtype or config.default_dtype)
    return Tensor(backend.to_device(values, device), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device="cpu", requires_grad=False):
    """start, start+step, ... below stop; int64 from integer arguments, else the default float dtype (torch)."""
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, stop, step))
        dtype = config.default_dtype if floats else np.int64
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if stop is None:
        start, stop = 0, start
    if (stop - start) * step < 0:  # NumPy returns an empty range; torch refuses
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={stop}, step={step})")
    xp = backend.array_module(device)
    return _leaf(xp.arange(start, stop, step, dtype=dtype), requires_grad, "arange")


def _fill_dtype(value, dtype):
    """torch.full's dtype: from the fill value when none is given (bool, int64 or the default float)."""
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    return config.default_dtype


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    xp = backend.array_module(device)
    size = check_sizes(tuple(size) if isinstance(size, (tuple, list)) else (size,), "full")
    if isinstance(fill_value, Tensor) and fill_value.numel() == 1:  # torch takes a one-element tensor too
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float, np.number, np.bool_)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__} {fill_value!r}")
    return _leaf(xp.full(size, fill_value, dtype=_fill_dtype(fill_value, dtype)), requires_grad, "full")


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    """Uninitialised memory in torch; here zeros, which is one valid uninitialised content."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    xp = backend.array_module(device)
    check_sizes((n,) if m is None else (n, m), "eye")
    return _leaf(xp.eye(n, n if m is None else m, dtype=dtype or config.default_dtype), requires_grad, "eye")


def rand(*size, dtype=None, device="cpu", requires_grad=False):
    """Uniform samples in [0, 1) from the stream that ``manual_seed`` resets."""
    values = config.rng.random(_shape(size, "rand")).astype(dtype or config.default_dtype)
    return _leaf(backend.to_device(values, device), requires_grad, "rand")


def _like(x, dtype, device):
    return dict(dtype=x.dtype if dtype is None else dtype, device=x.device if device is None else device)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return zeros(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return ones(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, requires_grad=requires_grad, **_like(input, dtype, device))


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return rand(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return randn(input.shape, requires_grad=requires_grad, **_like(input, dtype, device))


def _leaf(array, requires_grad, op):
    if requires_grad and array.dtype.kind not in "fc":
        raise TypeError(f"{op}: only floating tensors can require gradients, got dtype {array.dtype}")
    return Tensor(array, requires_grad)


def multinomial(input, num_samples, replacement=False):
    """Draw ``num_samples`` category indices per row of non-negative weights ``input`` (1-D or 2-D).

    With replacement: inverse-CDF sampling, u ~ U[0, 1) located in the normalised cumulative
    weights. Without: Efraimidis & Spirakis (2006, "Weighted random sampling with a
    reservoir", Algorithm A) — each category gets the key u^(1/w); the largest keys form a
    sample drawn without replacement in proportion to the weights. Their order is the order
    of draws, as successive sampling would give.
    """
    w = backend.to_numpy(input.data if isinstance(input, Tensor) else input).astype(np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: input must be 1-D or 2-D, got shape {w.shape}")
    rows = w.reshape(-1, w.shape[-1])
    n = rows.shape[1]
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial: invalid distribution (probabilities must be finite and >= 0)")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial: invalid distribution (the sum of probabilities must be > 0)")
    if num_samples <= 0 or (not replacement and num_samples > n):
        raise RuntimeError(
            f"multinomial: cannot draw {num_samples} samples from {n} categories "
            f"{'with' if replacement else 'without'} replacement"
        )
    u = config.rng.random((rows.shape[0], num_samples if replacement else n))
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]
        offset = np.arange(rows.shape[0])[:, None]  # row r's cdf lives in (r, r + 1]: one searchsorted for all rows
        flat = np.searchsorted((cdf + offset).ravel(), (u + offset).ravel(), side="right")
        picks = np.minimum(flat.reshape(u.shape) - offset * n, n - 1)
    else:
        with np.errstate(divide="ignore"):
            keys = np.where(rows > 0, np.log(u) / rows, -np.inf)  # log(u^(1/w)), -inf for weight 0
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return Tensor(backend.to_device(picks, input.device if isinstance(input, Tensor) else "cpu"))
