"""einsum: sums of products named by subscripts, ``einsum("bij,bjk->bik", a, b)``.

The gradient of operand k is itself an einsum: d out / d A_k contracts the
output gradient with every other operand, producing A_k's subscripts. Two cases
need care. A subscript repeated inside A_k (``"ii->i"``, a diagonal) is rewritten
with a fresh subscript and a Kronecker delta (an identity matrix) as an extra
operand, since A_ii = Σ_j A_ij δ_ij. A subscript that appears only in A_k is
summed away in the forward pass, so its gradient is constant along it: broadcast.
Because the backward calls ``einsum`` again, the second derivative comes free.
"""
import string

from minigrad import backend
from minigrad.functions.arithmetic import broadcast_to, sum_to
from minigrad.functions.shape import reshape
from minigrad.tensor import Function, ShapeError, unwrap


class Einsum(Function):
    promotes = True

    def __init__(self, inputs, output):
        self.inputs_subs, self.output_subs = inputs, output  # explicit subscripts, no ellipsis

    def forward(self, *xs):
        xp = backend.get_array_module(xs[0])
        equation = ",".join(self.inputs_subs) + "->" + self.output_subs
        return xp.einsum(equation, *xs, optimize=len(xs) > 1)

    def backward(self, gy, *xs):
        return tuple(_operand_grad(self, gy, xs, k) if need else None for k, need in enumerate(self.needs_grad))


def _operand_grad(fn, gy, xs, k):
    subs, out = fn.inputs_subs[k], fn.output_subs
    unused = iter(c for c in string.ascii_letters if c not in "".join(fn.inputs_subs) + out)
    xp = backend.get_array_module(unwrap(gy))
    # A subscript repeated in operand k becomes a fresh one tied to it by a delta.
    target, deltas = "", []
    for pos, label in enumerate(subs):
        if label in target:
            fresh = next(unused)
            deltas.append((label + fresh, xp.eye(xs[k].shape[pos], dtype=gy.dtype)))
            label = fresh
        target += label
    operands = [(out, gy)] + [(fn.inputs_subs[j], xs[j]) for j in range(len(xs)) if j != k] + deltas
    present = "".join(s for s, _ in operands)
    kept = "".join(c for c in target if c in present)  # the rest appear only in operand k
    g = einsum(",".join(s for s, _ in operands) + "->" + kept, *[v for _, v in operands])
    if kept != target:
        sizes = dict(zip(target, xs[k].shape))
        kept_sizes = iter(g.shape)
        g = reshape(g, tuple(next(kept_sizes) if c in kept else 1 for c in target))
        g = broadcast_to(g, tuple(n if c in kept else sizes[c] for c, n in zip(target, g.shape)))
    return sum_to(g, xs[k].shape)  # a size-1 dim broadcast against other operands sums back


def _parse(equation, shapes):
    """Explicit subscripts for each operand and the output, with ``...`` spelled out."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: equation {equation!r} names {len(terms)} operands but {len(shapes)} were given")
    for ch in equation:
        if ch not in string.ascii_letters + ",.->":
            raise ShapeError(f"einsum: subscripts must be letters, got {ch!r} in {equation!r}")
    named = set(c for c in lhs if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in named and c not in rhs]
    widest = max([len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t] or [0])
    ellipsis = "".join(spare[:widest])
    explicit = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        letters = term.replace("...", "")
        if "..." in term:
            n = len(shape) - len(letters)
            if n < 0:
                raise ShapeError(f"einsum: operand {i} has {len(shape)} dims, fewer than the subscripts {term!r}")
            term = term.replace("...", ellipsis[widest - n:])
        elif len(term) != len(shape):
            raise ShapeError(
                f"einsum: subscripts {term!r} name {len(term)} dims but operand {i} has shape {tuple(shape)}"
            )
        explicit.append(term)
    if arrow:
        output = rhs.replace("...", ellipsis)
        for c in output:
            if c not in named and c not in ellipsis:
                raise ShapeError(f"einsum: output subscript {c!r} does not appear in the inputs of {equation!r}")
        if len(set(output)) != len(output):
            raise ShapeError(f"einsum: output subscripts {rhs!r} repeat a letter")
    else:  # implicit mode: the ellipsis dims, then every letter used once, in alphabetical order
        counts = "".join(t.replace("...", "") for t in terms)
        output = ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return explicit, output


def einsum(equation, *operands):
    """Sum of products over the subscripts missing from the output (torch.einsum / numpy.einsum)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum: only the string equation form is supported, e.g. einsum('ij,jk->ik', a, b)")
    if not operands:
        raise ShapeError("einsum: needs at least one operand")
    inputs, output = _parse(equation, [tuple(unwrap(x).shape) for x in operands])
    return Einsum(tuple(inputs), output)(*operands)
