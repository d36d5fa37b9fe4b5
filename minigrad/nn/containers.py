"""ModuleList and ModuleDict: hold sub-modules so their parameters are registered.

A plain Python list of layers is invisible to ``parameters()`` and
``state_dict()``; these containers register each entry as a child named by
its position ("0", "1", ...) or its key, which is where state-dict names such
as ``h.0.attn.c_attn.weight`` come from. Neither has a ``forward``: the owner
decides how to call what they hold.
"""
import operator
from collections import OrderedDict
from collections.abc import Mapping

from minigrad.nn.module import Module


class ModuleList(Module):
    """A list of modules registered under "0", "1", ... (PyTorch's ``nn.ModuleList``)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _position(self, idx):
        idx = operator.index(idx)
        if not -len(self) <= idx < len(self):
            raise IndexError(f"ModuleList: index {idx} is out of range for a list of {len(self)} modules")
        return idx % len(self)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._position(idx))]

    def __setitem__(self, idx, module):
        self.add_module(str(self._position(idx)), module)

    def __delitem__(self, idx):
        kept = list(self._modules.values())
        if isinstance(idx, slice):
            del kept[idx]
        else:
            del kept[self._position(idx)]
        for name in list(self._modules):  # renumber so names stay 0..n-1, as PyTorch does
            delattr(self, name)
        self.extend(kept)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        try:
            modules = list(modules)
        except TypeError:
            raise TypeError(f"ModuleList.extend should be called with an iterable, "
                            f"but got {type(modules).__name__}") from None
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        self.extend(items)


class ModuleDict(Module):
    """An ordered dict of modules registered under their keys (PyTorch's ``nn.ModuleDict``)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def update(self, modules):
        """Add entries from a mapping (keys kept in its order) or from an iterable of (key, module) pairs."""
        if isinstance(modules, (OrderedDict, ModuleDict, Mapping)):
            pairs = modules.items()
        else:
            pairs = []
            for i, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(f"ModuleDict.update: element #{i} should be a (key, module) pair, got {pair!r}")
                pairs.append(pair)
        for key, module in pairs:
            self[key] = module
