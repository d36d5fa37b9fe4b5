"""Module and Parameter: the containers every model is built from (PyTorch's layout).

Assigning a Parameter or a Module to an attribute registers it, in order, so
``parameters()`` and ``state_dict()`` walk the model the same way PyTorch does
and weights copy across by name.
"""
from collections import OrderedDict

from minigrad import backend
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that a Module owns and optimizers update (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    # ---- walking the tree -------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:  # a shared parameter is listed once
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

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

    def to(self, device):
        """Move every parameter's data to ``device`` in place (the Parameter objects stay the same)."""
        for p in self.parameters():
            p.data = backend.to_device(p.data, device)
            if p.grad is not None:
                p.grad.data = backend.to_device(p.grad.data, device)
        return self

    # ---- checkpoints ------------------------------------------------
    def state_dict(self):
        """name -> Tensor sharing the parameter's data, in registration order."""
        return OrderedDict((name, Tensor(p.data)) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing parameters (keeping their dtype and device)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, value in state_dict.items():
            if name not in own:
                continue
            p = own[name]
            data = value.data if isinstance(value, Tensor) else value
            if tuple(data.shape) != tuple(p.shape):
                raise ValueError(
                    f"load_state_dict: {name} has shape {tuple(data.shape)} in the checkpoint "
                    f"but {tuple(p.shape)} in the model"
                )
            xp = backend.get_array_module(p.data)
            p.data[...] = xp.asarray(backend.to_device(backend.to_numpy(data) if backend.device_of(p.data) == "cpu" else data, p.device), dtype=p.dtype)

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
            setattr(self, str(i), m)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
