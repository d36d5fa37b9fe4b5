"""A differential fuzzer for the autograd engine: random expression DAGs run in minigrad and PyTorch.

A *program* is a list of steps over a few leaves; each step applies one op to earlier nodes, so
leaves and intermediate results are reused freely (the case that once broke ``.backward()``).
The same program is evaluated with both frameworks from one op table, and three things are
compared in float64:

1. ``loss.backward()`` called twice (gradients accumulate into ``.grad``),
2. ``autograd.grad(loss, leaves)``,
3. double backward: the gradient of ``sum_i <grad_i, v_i>`` for fixed random vectors ``v_i``.

Programs are built by ``build_program(choose)``, where ``choose(options)`` picks one option: a
hypothesis draw in the test (so failures shrink to a small program) or a seeded ``random.Random``.
"""
import numpy as np
import torch

import minigrad as mg

LEAF_SHAPES = [(2, 3), (3,), (2, 1), (1, 3), (), (3, 3)]
RTOL, ATOL = 1e-10, 1e-10  # "at 1e-10": relative to the largest entry, and absolute


def _both(mg_fn, torch_fn):
    return {"mg": mg_fn, "torch": torch_fn}


# Unary ops: name -> (minigrad fn, torch fn). Inputs are kept in a range where every op is smooth.
UNARY = {
    "tanh": _both(mg.tanh, torch.tanh),
    "sigmoid": _both(mg.sigmoid, torch.sigmoid),
    "exp": _both(lambda x: mg.exp(mg.tanh(x)), lambda x: torch.exp(torch.tanh(x))),
    "neg": _both(lambda x: -x, lambda x: -x),
    "square": _both(lambda x: x ** 2, lambda x: x ** 2),
    "cube": _both(lambda x: x ** 3, lambda x: x ** 3),
    "log1p_sq": _both(lambda x: mg.log(x * x + 1), lambda x: torch.log(x * x + 1)),
    "sqrt1p_sq": _both(lambda x: mg.sqrt(x * x + 1), lambda x: torch.sqrt(x * x + 1)),
    "scale": _both(lambda x: 0.5 * x - 1.0, lambda x: 0.5 * x - 1.0),
}

BINARY = {
    "add": _both(lambda a, b: a + b, lambda a, b: a + b),
    "sub": _both(lambda a, b: a - b, lambda a, b: a - b),
    "mul": _both(lambda a, b: a * b, lambda a, b: a * b),
    # a denominator bounded away from zero: 1.5 + tanh(b) lies in (0.5, 2.5)
    "div": _both(lambda a, b: a / (mg.tanh(b) + 1.5), lambda a, b: a / (torch.tanh(b) + 1.5)),
}


def _reduction(kind, axis, keepdims):
    mg_fns = {"sum": mg.sum, "mean": mg.mean, "max": mg.amax, "logsumexp": mg.logsumexp}
    torch_fns = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "logsumexp": torch.logsumexp}

    def torch_fn(x):  # axis None: every axis, honouring keepdim
        return torch_fns[kind](x, dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=keepdims)

    return _both(lambda x: mg_fns[kind](x, axis, keepdims), torch_fn)


def _softmax(axis, log):
    if log:
        return _both(lambda x: mg.log_softmax(x, axis), lambda x: torch.log_softmax(x, dim=axis))
    return _both(lambda x: mg.softmax(x, axis), lambda x: torch.softmax(x, dim=axis))


def _take_rows(rows):
    index = np.array(rows)
    return _both(lambda x: x[index], lambda x: x[torch.as_tensor(index)])


def _slice_last(step):
    return _both(lambda x: x[..., ::step], lambda x: x[..., ::step] if step > 0 else x.flip(-1))


GRAM = _both(lambda x: x @ x.T, lambda x: x @ x.T)
MATMUL = _both(lambda a, b: a @ b, lambda a, b: a @ b)


def _broadcasts(s, t):
    try:
        np.broadcast_shapes(s, t)
        return True
    except ValueError:
        return False


KINDS = ("unary", "binary", "binary", "binary", "reduce", "softmax", "index", "matmul")


def build_program(choose, max_steps=6, kinds=KINDS):
    """(leaf shapes, steps): step = (label, {"mg": fn, "torch": fn}, input node ids, output shape)."""
    n_leaves = choose([1, 2, 3])
    shapes = [choose(LEAF_SHAPES) for _ in range(n_leaves)]
    steps = []
    for _ in range(choose(list(range(2, max_steps + 1)))):
        kind = choose(list(kinds))
        # Half the time an op extends the newest node, so the graph is deep rather than a heap of
        # unused branches, and earlier nodes (leaves above all) are reused along several paths.
        i = choose([len(shapes) - 1, choose(list(range(len(shapes))))])
        s = shapes[i]
        if kind == "binary":
            partners = [j for j, t in enumerate(shapes) if _broadcasts(s, t)]
            j = choose(partners)  # may be i itself: x op x
            name = choose(sorted(BINARY))
            steps.append((name, BINARY[name], (i, j), np.broadcast_shapes(s, shapes[j])))
        elif kind == "reduce" and len(s) > 0:
            axis = choose([None] + list(range(-len(s), len(s))))
            keepdims = choose([False, True])
            red = choose(["sum", "mean", "max", "logsumexp"])
            out = np.empty(s).sum(axis=axis, keepdims=keepdims).shape
            steps.append((f"{red}(axis={axis}, keepdims={keepdims})", _reduction(red, axis, keepdims), (i,), out))
        elif kind == "softmax" and len(s) > 0:
            axis, log = choose(list(range(-len(s), len(s)))), choose([False, True])
            steps.append((f"{'log_' if log else ''}softmax({axis})", _softmax(axis, log), (i,), s))
        elif kind == "index" and len(s) > 0:
            if choose([True, False]):
                rows = [choose(list(range(s[0]))) for _ in range(choose([1, 2, 3]))]  # repeats allowed
                steps.append((f"[{rows}]", _take_rows(rows), (i,), (len(rows),) + s[1:]))
            else:
                step = choose([2, -1])
                steps.append((f"[..., ::{step}]", _slice_last(step), (i,), np.empty(s)[..., ::step].shape))
        elif kind == "matmul" and len(s) == 2:
            partners = [j for j, t in enumerate(shapes) if len(t) == 2 and t[0] == s[1]]
            if partners and choose([True, False]):
                j = choose(partners)
                steps.append(("matmul", MATMUL, (i, j), (s[0], shapes[j][1])))
            else:
                steps.append(("x @ x.T", GRAM, (i,), (s[0], s[0])))
        else:
            name = choose(sorted(UNARY))
            steps.append((name, UNARY[name], (i,), s))
        shapes.append(tuple(steps[-1][3]))
    return shapes[:n_leaves], steps


def describe(leaf_shapes, steps):
    lines = [f"leaf {k}: shape {s}" for k, s in enumerate(leaf_shapes)]
    for k, (label, _, ins, shape) in enumerate(steps, start=len(leaf_shapes)):
        lines.append(f"node {k} = {label}{tuple(ins)} -> {tuple(shape)}")
    return "\n".join(lines)


def _evaluate(framework, leaves, steps, weight):
    nodes = list(leaves)
    for _, fns, ins, _ in steps:
        nodes.append(fns[framework](*[nodes[k] for k in ins]))
    return (nodes[-1] * weight).sum()


def _as_numpy(grads, leaves):
    arrays = []
    for g, x in zip(grads, leaves):
        if g is None:
            arrays.append(np.zeros(tuple(x.shape)))
        elif isinstance(g, torch.Tensor):
            arrays.append(g.detach().numpy())
        else:
            arrays.append(g.numpy())
    return arrays


LARGEST_VALUE = 1e3  # beyond this the problem, not the engine, limits agreement (see ``well_conditioned``)


def well_conditioned(leaf_shapes, steps, values):
    """False when an intermediate value exceeds ``LARGEST_VALUE`` in magnitude.

    Chained powers and Gram products can reach 1e7 from inputs of order 1; one ulp there
    (1e-9) times a gradient of 1e8 is an absolute disagreement of 0.1 between two correct
    engines that merely round ``x ** 3`` differently. Such programs test float64, not autograd.
    """
    nodes = [torch.tensor(v) for v in values]
    with torch.no_grad():
        for _, fns, ins, _ in steps:
            nodes.append(fns["torch"](*[nodes[k] for k in ins]))
    return all(float(n.abs().max()) <= LARGEST_VALUE for n in nodes if n.numel())


def run_program(leaf_shapes, steps, seed, device="cpu"):
    """Differences between minigrad (on ``device``) and PyTorch on one program: a list of messages,
    empty if none; None for a program too ill-conditioned to compare at 1e-10 (``well_conditioned``)."""
    rng = np.random.default_rng(seed)
    values = [rng.uniform(-1.5, 1.5, s) for s in leaf_shapes]
    weight = rng.standard_normal(steps[-1][3])
    vs = [rng.standard_normal(s) for s in leaf_shapes]
    if not well_conditioned(leaf_shapes, steps, values):
        return None
    problems = []

    def compare(what, ours, theirs):
        for k, (a, b) in enumerate(zip(ours, theirs)):
            if a.shape != b.shape:
                problems.append(f"{what}, leaf {k}: shape {a.shape} vs torch {b.shape}")
            # tolerance relative to the array's largest entry: entries that cancel to near zero
            # legitimately differ by rounding of the large terms (summation order differs)
            elif not np.allclose(a, b, rtol=0, atol=ATOL + RTOL * np.nanmax(np.abs(b), initial=0), equal_nan=True):
                problems.append(f"{what}, leaf {k}: max difference {np.nanmax(np.abs(a - b)):.3g}")

    # 1. .backward() twice: accumulation into .grad
    ours = [mg.tensor(v, dtype=np.float64, device=device, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    loss, loss_t = _evaluate("mg", ours, steps, mg.tensor(weight, device=device)), _evaluate("torch", theirs, steps, torch.tensor(weight))
    if not np.allclose(loss.item(), loss_t.item(), rtol=RTOL, atol=ATOL):
        return [f"forward: {loss.item()} vs torch {loss_t.item()}"]
    for _ in range(2):
        loss.backward(retain_graph=True)
        loss_t.backward(retain_graph=True)
    compare(".backward() x2", _as_numpy([x.grad for x in ours], ours), _as_numpy([x.grad for x in theirs], theirs))

    # 2. autograd.grad, and 3. double backward through <grad, v>
    ours = [mg.tensor(v, dtype=np.float64, device=device, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    loss, loss_t = _evaluate("mg", ours, steps, mg.tensor(weight, device=device)), _evaluate("torch", theirs, steps, torch.tensor(weight))
    gs = mg.autograd.grad(loss, ours, create_graph=True)
    gts = torch.autograd.grad(loss_t, theirs, create_graph=True, allow_unused=True)
    compare("autograd.grad", _as_numpy(gs, ours), _as_numpy(gts, theirs))
    dot = sum((g * mg.tensor(v, device=device)).sum() for g, v in zip(gs, vs))
    dot_t = sum((g * torch.tensor(v)).sum() for g, v in zip(gts, vs) if g is not None)
    if isinstance(dot_t, torch.Tensor) and dot_t.requires_grad:
        if not dot.requires_grad:
            problems.append("double backward: torch's gradient depends on the inputs, minigrad's does not")
        else:
            hv = mg.autograd.grad(dot, ours)
            hv_t = torch.autograd.grad(dot_t, theirs, allow_unused=True)
            compare("double backward", _as_numpy(hv, ours), _as_numpy(hv_t, theirs))
    return problems
