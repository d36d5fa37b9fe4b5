"""The optimizer base class: parameter groups, per-parameter state, checkpoints, step hooks.

An optimizer builds no graph. It reads each parameter's gradient as a raw array
(``p.grad.data``) and rewrites the parameter's raw array (``p.data``) in place,
so one update rule runs on NumPy and on CuPy unchanged. The layout is
``torch.optim.Optimizer``'s, so the two read side by side:

    param_groups   [{"params": [t1, t2], "lr": 0.1, "momentum": 0.9, ...}, ...]
                   a hyper-parameter missing from a group takes the optimizer's default
    state          {param: {"momentum_buffer": array, "step": 3, ...}}
                   created lazily, on the first step in which the parameter has a gradient

A subclass writes one method, ``_update(closure)``. The public ``step`` runs the
pre-step hooks first (the place for gradient clipping, compression or an
all-reduce across workers), then ``_update``, then the post-step hooks.
"""
import itertools

from minigrad import backend, config
from minigrad.optim.inplace import axpy_
from minigrad.tensor import Tensor


class _Required:
    """Marks a hyper-parameter with no default (LARS's lr): every group must give it."""

    def __repr__(self):
        return "<required>"


required = _Required()


def check_hyperparameters(optimizer_name, betas=None, **nonnegative):
    """Refuse bad hyper-parameters as ``torch.optim`` does (ValueError), naming the optimizer.

    Every keyword in ``nonnegative`` must be >= 0, and each of ``betas`` (exactly
    two) must lie in [0, 1). NaN fails both tests (``not 0 <= nan``). One deliberate
    difference: torch.optim.SGD lets a NaN lr or momentum through, which turns every
    parameter into NaN on the first step; minigrad refuses it for every optimizer.
    ``required`` (an lr still to come from each group) is skipped.
    """
    for name, value in nonnegative.items():
        if value is not required and not 0.0 <= value:
            raise ValueError(f"{optimizer_name}: invalid {name} {value} (must be >= 0)")
    if betas is None:
        return
    if len(betas) != 2:
        raise ValueError(f"{optimizer_name}: betas must be a pair (beta1, beta2), got {tuple(betas)}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{optimizer_name}: invalid betas[{i}] {beta} (must lie in [0, 1))")


class RemovableHandle:
    """Returned by ``register_step_*_hook``; ``handle.remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = next(self._ids)

    def remove(self):
        self._hooks.pop(self.id, None)


class Optimizer:
    """Base class. ``params``: an iterable of leaf Tensors, or of dicts (parameter groups)."""

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                f"got a single Tensor of shape {params.shape}; wrap it in a list"
            )
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        self._step_pre_hooks = {}
        self._step_post_hooks = {}
        self._scratch_buffers = {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {settings}")
        return "\n".join(lines + [")"])

    # ---- parameters ------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a dict {"params": [...], <hyper-parameter>: value, ...}; missing keys take the defaults.

        As in torch 2.x, the params may be (name, tensor) pairs (``model.named_parameters()``):
        the names are kept in the group as ``param_names``; every group must then have them.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        named = [isinstance(p, tuple) for p in params]
        if any(named) and not all(named):
            raise ValueError(f"{name}: give every parameter as (name, tensor) or none; some names are missing")
        if any(named):
            group["param_names"], params = [n for n, _ in params], [p for _, p in params]
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{name}: every param group must have parameter names, or none may")
        group["params"] = params
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"{name}: a tensor of shape {p.shape} has requires_grad=False")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor (shape {p.shape})")
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required '{key}'")
            group.setdefault(key, default)
        seen = {id(p) for p in self._params()}
        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError(f"{name}: a parameter appears twice (in one group or in two)")
        self.param_groups.append(group)

    def _with_gradients(self):
        """(group, parameter) for every parameter that has a gradient: the ones a step updates."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield group, p

    def _state_of(self, p, buffers):
        """``p``'s state; on its first step: ``step`` 0 and a zero array shaped like ``p`` per name in ``buffers``."""
        state = self.state.setdefault(p, {})
        if not state:
            xp = backend.get_array_module(p.data)
            state["step"] = 0
            state.update({name: xp.zeros_like(p.data) for name in buffers})
        return state

    def _params(self):
        """All parameters, group after group: the order ``state_dict`` numbers them in."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: drop them (default, like PyTorch) or overwrite them with zeros."""
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor(p.grad.data)  # cut any graph kept by create_graph
                p.grad.data[...] = 0

    # ---- the update --------------------------------------------------------
    def step(self, closure=None):
        """Pre-step hooks, then the update, then post-step hooks. Returns the closure's loss, if any."""
        for hook in list(self._step_pre_hooks.values()):
            hook(self)
        loss = self._update(closure)
        for hook in list(self._step_post_hooks.values()):
            hook(self)
        return loss

    def _update(self, closure):
        raise NotImplementedError(f"{type(self).__name__}._update")

    @staticmethod
    def _loss_from(closure):
        """PyTorch's convention: an optional closure recomputes the loss (and its gradients)."""
        if closure is None:
            return None
        with config.enable_grad():
            return closure()

    # ---- helpers for the update rules ---------------------------------------
    def _scratch(self, like, slot=0):
        """A temporary array shaped like ``like``, reused by every parameter and step.

        One flat buffer per (slot, dtype, device), as large as the largest
        parameter seen, so an update allocates nothing (a fresh 50 MB temporary
        per parameter costs more than the arithmetic). Its contents are garbage
        until written; a rule uses slot 0 and slot 1 for two live temporaries.
        """
        key = (slot, like.dtype, backend.device_of(like))
        buffer = self._scratch_buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = self._scratch_buffers[key] = backend.get_array_module(like).empty(like.size, like.dtype)
        return buffer[:like.size].reshape(like.shape)

    def _gradient(self, g, param, maximize=False, weight_decay=0.0):
        """torch's first lines of most rules: g <- -g if maximize; g <- g + weight_decay * param.

        On raw arrays (a whole parameter or one block of it). Returns ``g`` itself
        when neither applies (it is never written to: it is the caller's
        gradient), else the result in scratch slot 0.
        """
        if not maximize and weight_decay == 0:
            return g
        xp = backend.get_array_module(g)
        out = self._scratch(g, 0)
        if maximize:
            xp.negative(g, out=out)
        else:
            xp.copyto(out, g)
        return axpy_(out, weight_decay, param) if weight_decay != 0 else out

    def register_step_pre_hook(self, hook):
        """Call ``hook(optimizer)`` before every update; it may rewrite ``p.grad`` in place.

        This is the seam where gradient clipping, compression or averaging across
        workers plug in without the optimizer knowing about them. (PyTorch's hook
        also receives the step's args and kwargs; minigrad's ``step`` takes only a
        closure, so the hook gets just the optimizer.)
        """
        handle = RemovableHandle(self._step_pre_hooks)
        self._step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """Call ``hook(optimizer)`` after every update."""
        handle = RemovableHandle(self._step_post_hooks)
        self._step_post_hooks[handle.id] = hook
        return handle

    # ---- checkpoints -------------------------------------------------------
    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]} — PyTorch's layout.

        Parameters are named by their position in ``param_groups`` (counted across
        groups), so the dict does not hold the parameters themselves. Arrays are
        copied: later steps do not change a checkpoint already taken.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {
            index[id(p)]: {key: _copy(value) for key, value in s.items()}
            for p, s in self.state.items()
        }
        groups = [
            {**{k: v for k, v in group.items() if k != "params"}, "params": [index[id(p)] for p in group["params"]]}
            for group in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by ``state_dict`` (arrays moved to each param's device/dtype)."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the checkpoint has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters in the checkpoint, "
                    f"{len(mine['params'])} here"
                )
            by_index.update(zip(saved["params"], mine["params"]))
        state = {}
        for i, saved_state in state_dict["state"].items():
            p = by_index[int(i)]
            state[p] = {key: _onto_param(value, p, key, name) for key, value in saved_state.items()}
        self.state = state
        for mine, saved in zip(self.param_groups, saved_groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)


def _copy(value):
    return value.copy() if _is_array(value) else value


def _onto_param(value, p, key, name):
    """A copy of a saved state array on ``p``'s device; floating arrays take ``p``'s dtype.

    Accepts raw arrays and Tensors (``minigrad.load`` gives arrays back as Tensors).
    """
    if isinstance(value, Tensor):
        value = value.data
    if not _is_array(value):
        return value
    if value.shape != p.shape:
        raise ValueError(
            f"{name}.load_state_dict: state '{key}' has shape {value.shape} but its parameter has shape {p.shape}"
        )
    value = backend.to_device(value, p.device)
    dtype = p.dtype if value.dtype.kind == "f" else value.dtype
    return value.astype(dtype, copy=True)
