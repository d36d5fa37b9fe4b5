"""Classification losses: ``nll_loss`` and ``cross_entropy`` with PyTorch's arguments and numbers.

Both reduce to one weighted sum over log-probabilities z (N rows, C classes):

    loss_i = -Σ_c A_ic z_ic

where the constant coefficients A carry everything the options ask for:
- class-index targets t: A_i = w[t_i] · onehot(t_i), and 0 for rows whose target is ``ignore_index``;
- label smoothing ε (Szegedy et al. 2016, "Rethinking the Inception Architecture", sec. 7):
  A_i = (1-ε) · w[t_i] · onehot(t_i) + (ε/C) · w, i.e. the target mixed with the uniform distribution;
- class-probability targets y: A_i = w ⊙ ((1-ε) y_i + ε/C).
``reduction='mean'`` divides the sum by Σ_i w[t_i] over counted rows (index targets) or by N
(probability targets), exactly as PyTorch does; when every target is ignored this is 0/0, so the
loss is nan while the gradient stays 0, again as in PyTorch.

``cross_entropy(x) = nll_loss(log_softmax(x))``, fused into one op; the log-softmax is shifted
by each row's maximum, so logits of 1e4 stay finite.
"""
import numpy as np

from minigrad import backend
from minigrad import functions as ops
from minigrad.tensor import Function, Tensor, unwrap

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction (use one of {_REDUCTIONS})")


class WeightedNLL(Function):
    """-Σ_c A_ic z_ic per row, then reduced; A = onehot(target) · row_weight + dense (both constant).

    The gradient is -A scaled by the incoming gradient (divided by ``denom`` for 'mean');
    rows that are not ``counted`` get exactly 0, even when ``denom`` is 0.
    """

    def __init__(self, target, row_weight, dense, counted, reduction, denom):
        self.target, self.row_weight, self.dense = target, row_weight, dense
        self.reduction, self.denom = reduction, denom
        xp = backend.get_array_module(counted)
        self.rows = xp.arange(counted.shape[0])
        if reduction == "mean":  # 1/denom per counted row; inf when denom is 0 gives nan gradients, as torch
            self.mean_scale = xp.where(counted, 1.0 / denom if denom else np.inf, 0.0)[:, None]  # (N, 1)

    def coefficients(self, like):
        """A as a dense (N, C) array."""
        xp = backend.get_array_module(like)
        a = xp.zeros(like.shape, dtype=like.dtype) if self.dense is None else self.dense.copy()
        if self.target is not None:
            a[self.rows, self.target] += self.row_weight
        return a

    def row_totals(self):
        """a_i = Σ_c A_ic, as (N, 1)."""
        total = 0
        if self.target is not None:
            total = self.row_weight
        if self.dense is not None:
            total = total + self.dense.sum(axis=1)
        return total[:, None]

    def weighted_sum(self, z):
        """Σ_c A_ic z_ic for every row, (N,)."""
        total = 0 if self.target is None else self.row_weight * z[self.rows, self.target]
        if self.dense is not None:
            total = total + (self.dense * z).sum(axis=1)
        return total

    def reduce(self, per_row):
        if self.reduction == "none":
            return per_row
        if self.reduction == "sum":
            return per_row.sum()
        return per_row.sum() / self.denom if self.denom else per_row.sum() * np.nan  # 0/0 when nothing counts

    def forward(self, z):
        return self.reduce(-self.weighted_sum(z))

    def row_factor(self, gy, dtype):
        """The incoming gradient as one factor per row, (N, 1) (or a scalar for 'sum')."""
        if self.reduction == "none":
            return ops.reshape(gy, (-1, 1))
        if self.reduction == "mean":
            return gy * self.mean_scale.astype(dtype)
        return gy

    def backward(self, gy, z):
        return self.row_factor(gy, z.dtype) * -self.coefficients(unwrap(z))


class SoftmaxCrossEntropy(WeightedNLL):
    """``WeightedNLL`` of log softmax(x), fused into one op.

    loss_i = Σ_c A_ic (lse_i - x_ic) = a_i · lse_i - Σ_c A_ic x_ic with lse_i = log Σ_c e^(x_ic) and
    a_i = Σ_c A_ic; its gradient is g_i · (a_i · softmax(x_i) - A_i).
    """

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.row_max = x.max(axis=1, keepdims=True)  # (N, 1): shifting by it keeps exp finite
        self.row_sum = xp.exp(x - self.row_max).sum(axis=1, keepdims=True)  # (N, 1)
        lse = (self.row_max + xp.log(self.row_sum))[:, 0]
        return self.reduce(self.row_totals()[:, 0] * lse - self.weighted_sum(x))

    def backward(self, gy, x):
        if isinstance(gy, Tensor):  # create_graph: softmax(x) as a differentiable op
            gx = ops.softmax(x, dim=1)
        else:  # the same numbers from the forward's max and normaliser, in one buffer
            gx = backend.get_array_module(x).exp(x - self.row_max)
            gx /= self.row_sum
        # On arrays these update gx's own buffer; on Tensors they record new nodes.
        gx *= self.row_totals().astype(x.dtype)
        gx -= self.coefficients(unwrap(x))
        gx *= self.row_factor(gy, x.dtype)
        return gx


def _flatten_classes(op, input, target, probabilities):
    """(N, C, d1, ...) -> (N·d1·..., C) with targets to match; (C,) -> (1, C). Returns the row shape too."""
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        row_shape, logits = (), ops.reshape(input, (1, input.shape[0]))
    else:
        row_shape, logits = input.shape[:1] + input.shape[2:], input
        if input.ndim > 2:  # move the class axis last: (N, C, d...) -> (N, d..., C)
            logits = ops.permute(input, (0,) + tuple(range(2, input.ndim)) + (1,))
            logits = ops.reshape(logits, (-1, input.shape[1]))
    expected = tuple(input.shape) if probabilities else row_shape
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} needs a target of shape {expected}, "
                         f"got {tuple(target.shape)}")
    if probabilities and input.ndim > 2:
        target = target.transpose((0,) + tuple(range(2, input.ndim)) + (1,))
    return logits, target.reshape(logits.shape if probabilities else (-1,)), row_shape


def _class_weight(op, weight, num_classes, xp, dtype):
    if weight is None:
        return None
    w = xp.asarray(unwrap(weight), dtype=dtype)
    if w.shape != (num_classes,):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {num_classes} classes or no "
                           f"classes but got weight tensor of shape: {list(w.shape)}")
    return w


def _weighted_nll(op, z, target, weight, ignore_index, reduction, label_smoothing, row_shape, fused_softmax):
    """Build the coefficients of the module docstring for log-probabilities z (N, C) and apply them
    (to log softmax(z) when ``fused_softmax``)."""
    xp = backend.get_array_module(z.data)
    n, num_classes = z.shape
    w = _class_weight(op, weight, num_classes, xp, z.dtype)
    uniform = label_smoothing / num_classes  # the smoothing mass each class receives
    if target.dtype.kind == "f":  # class probabilities
        if ignore_index != -100:
            raise RuntimeError(f"{op}: ignore_index is not supported for floating point target")
        dense = target.astype(z.dtype) * (1 - label_smoothing) + uniform  # (N, C)
        coefficients = (None, None, dense if w is None else dense * w, xp.ones(n, dtype=bool), reduction, float(n))
    else:
        counted = target != ignore_index
        if target.size and (int(target.min()) < 0 or int(target.max()) >= num_classes):  # ignored, or bad
            bad = counted & ((target < 0) | (target >= num_classes))
            if bool(bad.any()):
                raise IndexError(f"{op}: target {int(target[bad][0])} is out of range for {num_classes} classes "
                                 f"(ignore_index={ignore_index})")
        safe_target = xp.where(counted, target, 0)
        target_weight = counted.astype(z.dtype) if w is None else w[safe_target] * counted  # (N,)
        dense = None
        if label_smoothing > 0:
            dense = counted[:, None] * (xp.full(num_classes, uniform, z.dtype) if w is None else uniform * w)
        row_weight = target_weight * (1 - label_smoothing)
        coefficients = (safe_target, row_weight, dense, counted, reduction, float(target_weight.sum()))
    loss = (SoftmaxCrossEntropy if fused_softmax else WeightedNLL)(*coefficients)(z)
    return ops.reshape(loss, row_shape) if reduction == "none" else loss


def _as_target(op, target, xp):
    t = xp.asarray(unwrap(target))
    if t.dtype.kind not in "iuf":
        raise TypeError(f"{op}: target must hold integer class indices or class probabilities, got dtype {t.dtype}")
    return t


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class ``target`` given log-probabilities ``input`` (N, C) or (N, C, d...).

    loss_i = -weight[t_i] · input[i, t_i]; 'mean' divides by Σ weight[t_i] over rows not ignored.
    """
    _check_reduction("nll_loss", reduction)
    t = _as_target("nll_loss", target, backend.get_array_module(input.data))
    if t.dtype.kind == "f":
        raise RuntimeError(f"nll_loss: expected target dtype to be integer, but got {t.dtype}")
    z, t, row_shape = _flatten_classes("nll_loss", input, t, probabilities=False)
    return _weighted_nll("nll_loss", z, t, weight, ignore_index, reduction, 0.0, row_shape, fused_softmax=False)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between softmax(input) and ``target``: class indices (N,) / (N, d...) or probabilities
    of the input's shape. Options as in PyTorch: per-class ``weight``, ``ignore_index``, ``reduction``,
    ``label_smoothing``; the formulas are in this module's docstring.
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if isinstance(target, Tensor) and target.requires_grad:
        return _cross_entropy_learned_target(input, target, weight, reduction, label_smoothing)
    t = _as_target("cross_entropy", target, backend.get_array_module(input.data))
    logits, t, row_shape = _flatten_classes("cross_entropy", input, t, probabilities=t.dtype.kind == "f")
    return _weighted_nll("cross_entropy", logits, t, weight, ignore_index, reduction, label_smoothing, row_shape,
                         fused_softmax=True)



def _cross_entropy_learned_target(input, target, weight, reduction, label_smoothing):
    """Probability targets that need a gradient themselves (a teacher being trained along): the same
    loss, -Σ_c w_c ((1-ε) y_c + ε/C) log softmax(x)_c, built from differentiable ops, so torch's
    gradient w.r.t. the target (-w ⊙ (1-ε) log softmax(x)) comes out too."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"cross_entropy: probability target of shape {tuple(target.shape)} must match the "
                         f"input's shape {tuple(input.shape)}")
    class_dim = 1 if input.ndim > 1 else 0
    num_classes = input.shape[class_dim]
    y = target * (1 - label_smoothing) + label_smoothing / num_classes
    if weight is not None:
        y = y * ops.reshape(weight, (num_classes,) + (1,) * (input.ndim - class_dim - 1))  # w on the class dim
    loss = -ops.sum(y * ops.log_softmax(input, class_dim), class_dim)
    return loss if reduction == "none" else ops.sum(loss) if reduction == "sum" else ops.mean(loss)
