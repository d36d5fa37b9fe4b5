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


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None):
    """d(outputs)/d(inputs) returned as a tuple of Tensors, leaving every ``.grad`` untouched.

    With ``create_graph=True`` the result is itself differentiable: the way to
    second derivatives. An input the outputs do not depend on gets zeros, or None
    with ``allow_unused=True`` (torch's answer for it).
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
        if g is not None and x.creator is None and x._grad_hooks:  # as PyTorch: a leaf's hooks see it
            g = _call_grad_hooks(x._grad_hooks, g)
        if g is None and allow_unused:
            result.append(None)
            continue
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
                "so pass gradient= of that shape"
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

    hooked = _hooked_leaf_edges(roots) if capture is None else {}  # id(leaf) -> edges still to come
    waiting = {}  # id(hooked leaf) -> (leaf, sum of its gradients so far)

    def send(x, gx):
        if capture is not None and id(x) in capture:
            capture[id(x)] = gx if capture[id(x)] is None else capture[id(x)] + gx
        f = x.creator
        if f is None:
            if id(x) in hooked:  # hold the gradient until every path has delivered (as PyTorch)
                total = waiting[id(x)][1] + gx if id(x) in waiting else gx
                waiting[id(x)] = (x, total)
                hooked[id(x)] -= 1
                if hooked[id(x)] == 0:
                    _accumulate_hooked_leaf(*waiting.pop(id(x)), borrowed)
            elif capture is None:
                _accumulate_leaf(x, gx, borrowed)
        elif f in pending:
            pending[f] = pending[f] + gx
        else:
            pending[f] = gx
            heapq.heappush(heap, (-f.generation, next(order), f))

    _final_callbacks.append([])  # queue_callback() adds to the innermost running pass
    previous_mode, config.grad_enabled = config.grad_enabled, create_graph
    try:
        for root, g in zip(roots, root_grads):
            send(root, Tensor(g) if create_graph and not isinstance(g, Tensor) else g)
        while heap:
            f = heapq.heappop(heap)[2]
            gy = pending.pop(f)
            if getattr(f, "output_hooks", None):  # hooks of the non-leaf tensor f produced
                gy = _call_grad_hooks(f.output_hooks, gy)
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
        for x, total in list(waiting.values()):  # a path that sent None: deliver what came
            _accumulate_hooked_leaf(x, total, borrowed)
        config.grad_enabled = previous_mode
        callbacks = _final_callbacks[-1]
        while callbacks:  # a callback may queue another one
            callbacks.pop(0)()
    finally:
        config.grad_enabled = previous_mode
        _final_callbacks.pop()


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


# ---- hooks (PyTorch's names and order) ----------------------------------------------
#
# ``t.register_hook(fn)``: fn(grad) -> new grad or None, called with the TOTAL gradient
# of t in this pass (all paths summed). For a non-leaf t the hook sits on the Function
# that made t and runs just before that Function's backward; for a leaf it runs once
# every path has delivered, before the sum goes into ``.grad``.
# ``t.register_post_accumulate_grad_hook(fn)``: fn(t) right after a leaf's ``.grad`` is
# updated. That is the moment DistributedDataParallel starts a bucket's all-reduce.
# Leaves with hooks are counted before the pass (how many edges lead to each), so
# their hooks fire as soon as the last edge delivers, not at the end of backward.

_final_callbacks = []  # one list per running backward pass (nested passes stack)
_hooked_leaves = [0]  # how many leaves hold hooks: 0 skips the edge count entirely


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook (idempotent)."""

    _ids = itertools.count()

    def __init__(self, hooks, on_remove=None):
        self.hooks, self.id, self.on_remove = hooks, next(self._ids), on_remove

    def remove(self):
        if self.hooks.pop(self.id, None) is not None and self.on_remove is not None:
            self.on_remove()


def register_hook(tensor, hook):
    """``Tensor.register_hook``: ``hook(grad) -> Tensor or None`` on the gradient of ``tensor``."""
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
    if tensor.creator is not None:
        owner = tensor.creator
        if getattr(owner, "output_hooks", None) is None:
            owner.output_hooks = {}
        handle = RemovableHandle(owner.output_hooks)
        owner.output_hooks[handle.id] = hook
        return handle
    if tensor._grad_hooks is None:
        tensor._grad_hooks = {}
    return _leaf_handle(tensor._grad_hooks, hook)


def register_post_accumulate_grad_hook(tensor, hook):
    """``Tensor.register_post_accumulate_grad_hook``: ``hook(tensor)`` after ``.grad`` is updated."""
    if tensor.creator is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors accumulate a .grad; "
                           "use register_hook for a non-leaf tensor")
    if not tensor.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: the tensor does not require grad")
    if tensor._post_accumulate_hooks is None:
        tensor._post_accumulate_hooks = {}
    return _leaf_handle(tensor._post_accumulate_hooks, hook)


def _leaf_handle(hooks, hook):
    def forget():
        _hooked_leaves[0] -= 1
    _hooked_leaves[0] += 1
    handle = RemovableHandle(hooks, forget)
    hooks[handle.id] = hook
    return handle


def queue_callback(callback):
    """Run ``callback()`` once the backward pass now running has finished (all hooks included).

    PyTorch's ``Variable._execution_engine.queue_callback``; DDP waits for its
    all-reduces here, so they are complete when ``loss.backward()`` returns.
    """
    if not _final_callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a hook")
    _final_callbacks[-1].append(callback)


def _hooked_leaf_edges(roots):
    """id(leaf) -> number of graph edges into it, for every leaf that holds a hook."""
    if not _hooked_leaves[0]:
        return {}
    counts, seen = {}, set()
    stack = []
    for root in roots:
        if root.creator is not None:
            stack.append(root.creator)
        elif _has_leaf_hooks(root):
            counts[id(root)] = counts.get(id(root), 0) + 1
    while stack:
        f = stack.pop()
        if f in seen or f.inputs is None:
            continue
        seen.add(f)
        for x in f.inputs:
            if x.creator is not None:
                stack.append(x.creator)
            elif x.requires_grad and _has_leaf_hooks(x):
                counts[id(x)] = counts.get(id(x), 0) + 1
    return counts


def _has_leaf_hooks(x):
    return bool(x._grad_hooks) or bool(x._post_accumulate_hooks)


def _call_grad_hooks(hooks, g):
    """Each hook in registration order; a hook's non-None result replaces the gradient."""
    as_tensor = isinstance(g, Tensor)
    for hook in list(hooks.values()):
        result = hook(g if as_tensor else Tensor(g))
        if result is not None:
            new = result if as_tensor else unwrap(result)
            if tuple(new.shape) != tuple(g.shape):
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                                   f"{tuple(new.shape)} for a gradient of shape {tuple(g.shape)}")
            g = new
    return g


def _accumulate_hooked_leaf(x, g, borrowed):
    if x._grad_hooks:
        g = _call_grad_hooks(x._grad_hooks, g)
    _accumulate_leaf(x, g, borrowed)
    if x._post_accumulate_hooks:
        for hook in list(x._post_accumulate_hooks.values()):
            hook(x)
