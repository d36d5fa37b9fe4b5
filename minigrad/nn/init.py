"""Weight initialisation, ``torch.nn.init``'s names, arguments and formulas.

Every function fills its tensor IN PLACE (no gradient is recorded) and returns it.

fan_in / fan_out of a weight of shape (out, in, *kernel) are in·k and out·k,
k = the product of the kernel sizes (1 for a Linear weight).

- Xavier/Glorot (Glorot & Bengio 2010, eq. 16): std = gain · √(2 / (fan_in + fan_out));
  the uniform variant draws from U(-√3·std, √3·std), which has that std.
- Kaiming/He (He et al. 2015, sec. 2.2, eq. 10): std = gain / √fan with fan = fan_in
  (keeps forward variance) or fan_out (keeps backward variance); uniform bound √3·std.
- ``calculate_gain``: the factor that undoes a nonlinearity's shrinking of the
  variance (√2 for ReLU, √(2 / (1 + slope²)) for leaky ReLU, 5/3 for tanh, 3/4 for SELU).
"""
import math
import numbers
import warnings

import numpy as np

from minigrad import backend, config

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (``param`` is leaky ReLU's negative slope, default 0.01)."""
    if nonlinearity in _LINEAR_LIKE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Number) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(tensor.shape)})"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write host ``values`` into ``tensor`` in place, keeping its dtype and device."""
    tensor.data[...] = backend.to_device(np.asarray(values, dtype=tensor.dtype), tensor.device)
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b). ``generator`` is a numpy Generator (default: the stream ``manual_seed`` sets)."""
    rng = generator or config.rng
    return _fill(tensor, rng.uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std²)."""
    if std < 0:
        raise RuntimeError(f"normal_: std must be >= 0, got {std}")
    rng = generator or config.rng
    return _fill(tensor, rng.normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std²) conditioned on a <= x <= b (a, b are absolute values, not in stds).

    Rejection sampling: each round draws enough candidates, given the acceptance
    probability Φ(β) - Φ(α), to fill the remaining slots, and keeps those inside.
    """
    rng = generator or config.rng

    def cdf(x):  # standard normal CDF
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    accept = cdf((b - mean) / std) - cdf((a - mean) / std)
    if not accept > 0:
        raise ValueError(f"trunc_normal_: [{a}, {b}] holds no mass of N({mean}, {std}²)")
    out = rng.normal(mean, std, size=math.prod(tensor.shape))
    bad = (out < a) | (out > b)
    while bad.any():
        need = int(bad.sum())
        draws = rng.normal(mean, std, size=int(need / accept * 1.2) + 16)
        draws = draws[(draws >= a) & (draws <= b)][:need]
        out[bad.nonzero()[0][:draws.size]] = draws
        bad = (out < a) | (out > b)
    return _fill(tensor, out.reshape(tensor.shape))


def constant_(tensor, val):
    tensor.data[...] = val
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (ones on the diagonal of a 2-D tensor)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    xp = backend.get_array_module(tensor.data)
    tensor.data[...] = xp.eye(*tensor.shape, dtype=tensor.dtype)
    return tensor


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014, "Exact solutions to the nonlinear
    dynamics of learning in deep linear networks"): the Q of a QR factorisation of a Gaussian matrix,
    with Q's columns signed by diag(R) so that Q is uniformly (Haar) distributed. Dims after the first
    are flattened into columns.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if 0 in tensor.shape:
        return tensor
    rows, cols = tensor.shape[0], math.prod(tensor.shape[1:])
    rng = generator or config.rng
    gaussian = rng.standard_normal((rows, cols))
    if rows < cols:
        gaussian = gaussian.T  # QR of the tall orientation, transposed back below
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound), bound = √3 · gain / √fan. ``nn.Linear``'s default is a=√5: bound 1/√fan_in."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)
