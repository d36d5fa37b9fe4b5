"""ModuleList, ModuleDict, buffers and the Module tree walks, each built once for torch and for minigrad."""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn


def build_net(lib):
    """The same model in either library: ``lib`` is ``torch`` or ``minigrad``."""
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = lib.nn.Linear(3, 3)
            self.ln = lib.nn.LayerNorm(3)
            self.register_buffer("mask", lib.ones(3, 3))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.h = lib.nn.ModuleList([Block() for _ in range(2)])
            self.heads = lib.nn.ModuleDict({"b": lib.nn.Linear(3, 2), "a": lib.nn.Sequential(lib.nn.Linear(3, 1))})
            self.register_buffer("scale", lib.ones(1))
            self.tied = lib.nn.Linear(3, 3, bias=False)
            self.tied.weight = self.h[0].attn.weight  # weight tying, as GPT's lm_head and wte

    return Net()


def names(pairs):
    return [name for name, _ in pairs]


def test_names_of_parameters_buffers_modules_and_state_dict_match_torch():
    ours, theirs = build_net(mg), build_net(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "h.0.attn.weight" in ours.state_dict() and "tied.weight" in ours.state_dict()  # tied: both names
    assert names(ours.named_parameters()) == names(theirs.named_parameters())  # tied: once
    assert names(ours.named_buffers()) == names(theirs.named_buffers())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_children()) == names(theirs.named_children())
    assert names(ours.h[1].named_parameters(prefix="h.1")) == names(theirs.h[1].named_parameters(prefix="h.1"))
    assert names(ours.named_parameters(recurse=False)) == names(theirs.named_parameters(recurse=False)) == []
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert len(list(ours.buffers())) == len(list(theirs.buffers()))


def test_state_dict_roundtrip_carries_buffers_from_torch():
    ours, theirs = build_net(mg), build_net(torch)
    with torch.no_grad():
        theirs.h[1].mask.fill_(7.0)
        theirs.scale.fill_(0.5)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy(), err_msg=name)
    assert ours.h[1].mask.numpy()[0, 0] == 7.0


def test_non_strict_load_reports_missing_and_unexpected_keys_like_torch():
    state = {"weight": np.zeros((2, 3)), "extra": np.zeros(1)}
    ours = nn.Linear(3, 2).load_state_dict(state, strict=False)
    theirs = torch.nn.Linear(3, 2).load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert ours.missing_keys == theirs.missing_keys == ["bias"]
    assert ours.unexpected_keys == theirs.unexpected_keys == ["extra"]


def test_apply_visits_children_before_parents_like_torch():
    seen, seen_t = [], []
    build_net(mg).apply(lambda m: seen.append(type(m).__name__))
    build_net(torch).apply(lambda m: seen_t.append(type(m).__name__))
    assert seen == seen_t


def test_apply_can_initialise_every_linear():
    net = build_net(mg)
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all(not m.weight.numpy().any() for m in net.modules() if isinstance(m, nn.Linear))


def _list_ops(lib):
    layers = lib.nn.ModuleList([lib.nn.Linear(2, 2) for _ in range(3)])
    layers.append(lib.nn.ReLU())
    layers.extend([lib.nn.Tanh(), lib.nn.Linear(2, 1)])
    layers += [lib.nn.Sigmoid()]
    layers.insert(1, lib.nn.Linear(2, 5))
    del layers[2]
    layers[-1] = lib.nn.Linear(1, 1)
    return layers


def test_module_list_operations_match_torch():
    ours, theirs = _list_ops(mg), _list_ops(torch)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # renumbered after del/insert
    assert len(ours) == len(theirs)
    assert type(ours[1:3]).__name__ == "ModuleList" and len(ours[1:3]) == 2
    assert ours[-2] is list(ours)[-2]
    with pytest.raises(IndexError):
        theirs[len(theirs)]
    with pytest.raises(IndexError, match="ModuleList: index 7 is out of range"):
        ours[7]
    with pytest.raises(TypeError):
        nn.ModuleList().extend(nn.Linear(2, 2))


def _dict_ops(lib):
    heads = lib.nn.ModuleDict([("x", lib.nn.Linear(2, 2)), ("y", lib.nn.ReLU())])
    heads.update({"z": lib.nn.Linear(2, 3)})
    heads["w"] = lib.nn.Linear(3, 3)
    popped = heads.pop("y")
    del heads["x"]
    return heads, popped


def test_module_dict_operations_match_torch():
    (ours, popped), (theirs, popped_t) = _dict_ops(mg), _dict_ops(torch)
    assert list(ours.keys()) == list(theirs.keys()) == list(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert type(popped).__name__ == type(popped_t).__name__ == "ReLU"
    assert "z" in ours and "x" not in ours and len(ours) == 2
    assert [k for k, _ in ours.items()] == [k for k, _ in theirs.items()]
    ours.clear()
    assert len(ours) == 0 and list(ours.state_dict()) == []
    with pytest.raises(ValueError):
        nn.ModuleDict([("only-a-key",)])


@pytest.mark.parametrize("name, value, error", [
    ("a.b", "tensor", KeyError), ("", "tensor", KeyError), ("training", "tensor", KeyError),
    ("forward", "tensor", KeyError), ("x", "list", TypeError),
])
def test_register_buffer_rejects_what_torch_rejects(name, value, error):
    for lib in (torch, mg):
        module = lib.nn.Linear(2, 2)
        v = lib.zeros(2) if value == "tensor" else [1, 2]
        with pytest.raises(error):
            module.register_buffer(name, v)


def test_buffer_assignment_none_and_non_persistent_follow_torch():
    for lib in (torch, mg):
        m = lib.nn.Linear(2, 2)
        m.register_buffer("running", lib.zeros(2))
        m.running = lib.ones(2)  # assigning a tensor updates the registered buffer
        assert names(m.named_buffers()) == ["running"] and m.running.numpy().sum() == 2
        m.register_buffer("empty", None)
        m.register_buffer("scratch", lib.ones(1), persistent=False)
        assert list(m.state_dict()) == ["weight", "bias", "running"]
        assert names(m.named_buffers()) == ["running", "scratch"]
        with pytest.raises(TypeError):
            m.running = [1.0]
        with pytest.raises(TypeError):  # a registered parameter takes a Parameter or None only
            m.weight = lib.zeros(2, 2)
        m.bias = None
        assert names(m.named_parameters()) == ["weight"]


def test_buffers_move_with_the_module_and_never_get_gradients():
    net = build_net(mg)
    assert all(not b.requires_grad for b in net.buffers())
    assert all(id(b) not in {id(p) for p in net.parameters()} for b in net.buffers())
    net.to("cpu")
    assert net.scale.device == "cpu"


def test_to_dtype_and_double_cast_floating_parameters_and_buffers_like_torch():
    for lib in (torch, mg):
        m = lib.nn.Linear(3, 2)
        m.register_buffer("steps", lib.zeros(2, dtype=lib.int64))
        m.register_buffer("scale", lib.ones(2))
        m.weight.grad = lib.zeros(2, 3)
        assert m.double() is m
        assert str(m.weight.dtype).endswith("float64") and str(m.scale.dtype).endswith("float64")
        assert str(m.weight.grad.dtype).endswith("float64")
        assert str(m.steps.dtype).endswith("int64")  # integer buffers keep their dtype
        m.to(lib.float32)
        assert str(m.bias.dtype).endswith("float32") and str(m.scale.dtype).endswith("float32")
        m.to("cpu", dtype=lib.float64)
        assert str(m.bias.dtype).endswith("float64")
