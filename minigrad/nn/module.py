"""Module and Parameter: the containers every model is built from (PyTorch's layout).

Assigning a Parameter or a Module to an attribute registers it, in order, and
``register_buffer`` does the same for state that is not trained (running
statistics, causal masks). ``parameters()`` and ``state_dict()`` then walk the
model the same way PyTorch does, so weights copy across by name
(``h.0.attn.c_attn.weight``).
"""
from collections import OrderedDict, namedtuple

import numpy as np

from minigrad import backend
from minigrad.tensor import ShapeError, Tensor


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(KeyError, RuntimeError):
    """Missing or unexpected keys in ``load_state_dict(strict=True)``: a RuntimeError as in torch, and a KeyError."""


class Parameter(Tensor):
    """A leaf Tensor that a Module owns and optimizers update (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _check_name(module, kind, name, registry):
    """PyTorch's rules for a registered name: a non-empty str without dots, not already another attribute."""
    owner = type(module).__name__
    if not isinstance(name, str):
        raise TypeError(f"{owner}.{kind}: name should be a string, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{owner}.{kind}: name can't be empty or contain \".\", got {name!r}")
    if hasattr(module, name) and name not in registry:
        raise KeyError(f"{owner}.{kind}: attribute '{name}' already exists")


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -----------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._parameters:
            if value is not None:  # as PyTorch: a registered parameter only takes a Parameter or None
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(Parameter or None expected)")
            self._parameters[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(Module or None expected)")
            self._modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter or None) under ``name``."""
        _check_name(self, "register_parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(Parameter or None required)")
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Add a Tensor that is saved with the model (unless ``persistent=False``) but never trained."""
        _check_name(self, "register_buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(Tensor or None required)")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Add a child module (or None) under ``name``; the containers use this."""
        _check_name(self, "add_module", name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    # ---- walking the tree -------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant, depth first; shared ones once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        walk = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in walk:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        """Call ``fn`` on every child (recursively) and then on this module; returns self (e.g. custom init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def to(self, *args, device=None, dtype=None):
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)``: move every parameter and buffer (and
        gradient) in place; a dtype applies to floating ones only, as in PyTorch. The objects stay the same."""
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in backend.DEVICES:
                device = arg
            else:
                dtype = arg
        dtype = None if dtype is None else np.dtype(dtype)

        def convert(tensor):
            data = tensor.data if device is None else backend.to_device(tensor.data, device)
            if dtype is not None and data.dtype.kind == "f":
                data = data.astype(dtype)
            tensor.data = data

        for p in self.parameters():
            convert(p)
            if p.grad is not None:
                convert(p.grad)
        for b in self.buffers():
            convert(b)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def half(self):
        return self.to(np.float16)

    # ---- checkpoints ------------------------------------------------
    def _state_items(self, prefix=""):
        """Each module's parameters, then its persistent buffers, depth first; a tied tensor under every name."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                yield prefix + name, b
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_items(f"{prefix}{name}.")

    def state_dict(self):
        """name -> Tensor sharing the parameter's (or buffer's) data, in PyTorch's order."""
        return OrderedDict((name, Tensor(t.data)) for name, t in self._state_items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing parameters and buffers (keeping their dtype and device).

        Returns (missing_keys, unexpected_keys), as PyTorch; with strict=True either one is an error.
        """
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, value in state_dict.items():
            if name not in own:
                continue
            p = own[name]
            data = value.data if isinstance(value, Tensor) else value
            if tuple(data.shape) != tuple(p.shape):
                raise ShapeError(
                    f"load_state_dict: {name} has shape {tuple(data.shape)} in the checkpoint "
                    f"but {tuple(p.shape)} in the model"
                )
            xp = backend.get_array_module(p.data)
            p.data[...] = xp.asarray(backend.to_device(backend.to_numpy(data) if backend.device_of(p.data) == "cpu" else data, p.device), dtype=p.dtype)
        return IncompatibleKeys(missing, unexpected)

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")

    def extra_repr(self):
        return ""


class Sequential(Module):
    """Apply modules one after another."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)  # refuses what is not a Module

    def __getitem__(self, i):
        """One module, or a Sequential of a slice of them keeping their names (seq[1:]), as torch."""
        if not isinstance(i, slice):
            return list(self._modules.values())[i]
        part = Sequential()
        for name, module in list(self._modules.items())[i]:
            part.add_module(name, module)
        return part

    def __len__(self):
        return len(self._modules)

    def append(self, module):
        """Add ``module`` at the end (named by its position, as torch); returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
