"""The backward pass and ``grad``: the engine itself.

Reverse-mode differentiation visits the Functions of a graph from the output
back to the leaves, each one only after every Function that uses its output
has sent it a gradient. A Function's *generation* (1 + the largest generation
among its inputs' creators) gives that order: pop the highest generation first
from a heap, as DeZero does (step 15). Gradients that reach a Function along
several paths are summed before it runs: this is the multivariate chain rule,
and the reason ``.grad`` accumulates.
"""
import heapq
import itertools

from minigrad import backend, config
from minigrad.tensor import Tensor, unwrap


def backward(root, grad=None, retain_graph=False, create_graph=False):
    """``root.backward(...)``: add d(root)/d(leaf) into the ``.grad`` of every leaf."""
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad (no leaf it depends on has requires_grad=True)")
    grad = _root_grad(root, grad, "backward")
    _run([root], [grad], retain_graph or create_graph, create_graph, capture=None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False):
    """d(outputs)/d(inputs) returned as a tuple of Tensors, leaving every ``.grad`` untouched.

    With ``create_graph=True`` the result is itself differentiable: the way to
    second derivatives. An input the outputs do not depend on gets zeros.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for y in outputs:
        if not y.requires_grad:
            raise RuntimeError("grad: an output does not require grad, so it has no path to the inputs")
    roots = [_root_grad(y, g, "grad") for y, g in zip(outputs, grad_outputs)]
    capture = {id(x): None for x in inputs}
    keep = create_graph if retain_graph is None else retain_graph
    _run(outputs, roots, keep, create_graph, capture)
    result, handed_out = [], set()
    for x in inputs:
        g = capture[id(x)]
        if g is None:
            g = backend.get_array_module(x.data).zeros_like(x.data)
        if not isinstance(g, Tensor):  # each result owns its array (Add hands one array to both inputs)
            if g.base is not None or id(g) in handed_out:
                g = g.copy()
            handed_out.add(id(g))
            g = Tensor(g)
        result.append(g)
    return tuple(result)


def _root_grad(root, grad, op):
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{op}: a gradient can only be implied for a scalar output; got shape {tuple(root.shape)}, "
                "so pass grad= of that shape"
            )
        return backend.get_array_module(root.data).ones_like(root.data)
    data = grad.data if isinstance(grad, Tensor) else grad
    if tuple(data.shape) != tuple(root.shape):
        raise RuntimeError(f"{op}: grad has shape {tuple(data.shape)} but the output has shape {tuple(root.shape)}")
    if backend.device_of(data) != root.device:
        raise RuntimeError(f"{op}: grad is on {backend.device_of(data)} but the output is on {root.device}")
    if isinstance(grad, Tensor) and grad.requires_grad:
        return grad  # part of a graph: keep it (create_graph use)
    return data.astype(root.dtype, copy=True)


def _run(roots, root_grads, retain_graph, create_graph, capture):
    pending = {}  # Function -> sum of the gradients sent to its output so far
    heap, order = [], itertools.count()
    borrowed = set()  # ids of arrays a leaf's .grad holds without owning them (see _accumulate_leaf)

    def send(x, gx):
        if capture is not None and id(x) in capture:
            capture[id(x)] = gx if capture[id(x)] is None else capture[id(x)] + gx
        f = x.creator
        if f is None:
            if capture is None:
                _accumulate_leaf(x, gx, borrowed)
        elif f in pending:
            pending[f] = pending[f] + gx
        else:
            pending[f] = gx
            heapq.heappush(heap, (-f.generation, next(order), f))

    previous_mode, config.grad_enabled = config.grad_enabled, create_graph
    try:
        for root, g in zip(roots, root_grads):
            send(root, Tensor(g) if create_graph and not isinstance(g, Tensor) else g)
        while heap:
            f = heapq.heappop(heap)[2]
            gy = pending.pop(f)
            if f.inputs is None:
                raise RuntimeError(
                    f"backward through {type(f).__name__} a second time: its graph was freed after the "
                    "first backward; pass retain_graph=True to the first call"
                )
            xs = f.inputs if create_graph else [x.data for x in f.inputs]
            gxs = f.backward(gy, *xs)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is not None and x.requires_grad:
                    if gx.shape != x.shape:
                        raise RuntimeError(
                            f"{type(f).__name__}.backward returned a gradient of shape {tuple(gx.shape)} "
                            f"for an input of shape {tuple(x.shape)}"
                        )
                    send(x, gx)
            if not retain_graph:
                f.inputs = f.output_data = None
    finally:
        config.grad_enabled = previous_mode


def _accumulate_leaf(x, gx, borrowed):
    """Add ``gx`` into the leaf's ``.grad``.

    A backward function may hand the SAME array to several receivers (``Add``
    gives ``gy`` to both inputs, and ``gy`` may also be waiting for another
    Function). So the first gradient a leaf receives in a pass is stored without
    a copy but marked *borrowed*: adding into it in place would change the other
    receivers' gradient too (the a + a + a bug: 4 instead of 3). A borrowed
    ``.grad`` is replaced by a fresh sum; only arrays the leaf owns are updated
    in place, as PyTorch does, to avoid a third parameter-sized buffer.
    """
    if gx.dtype != x.dtype:
        gx = gx.astype(x.dtype)  # a float32 parameter keeps float32 gradients
    if isinstance(gx, Tensor):  # create_graph: keep the gradient's own graph
        x.grad = gx if x.grad is None else x.grad + gx
        return
    if x.grad is None:
        if gx.base is not None or not getattr(gx.flags, "writeable", True) or id(gx) in borrowed:  # CuPy: no such flag
            gx = gx.copy()  # a view or an array another leaf already holds: own a copy
        borrowed.add(id(gx))
        x.grad = Tensor(gx)
    elif id(x.grad.data) in borrowed:
        borrowed.discard(id(x.grad.data))
        x.grad.data = x.grad.data + gx  # fresh array, owned from now on
    else:
        x.grad.data += gx
