"""What PyTorch users do with an optimizer, done with minigrad and with torch.optim side by side.

Every test drives both libraries through the same calls (param groups, add_param_group,
zero_grad, state_dict round trips, closures, NaN gradients, float32) and compares the
parameters, the state and the returned values after every step: float64 to 1e-12,
float32 to float32's precision. Schedulers and GradScaler are in test_optim_conformance_schedules.py.
"""
import math

import numpy as np
import pytest
import torch
from optim_side_by_side import gradient_of, initial_values

import minigrad as mg
from minigrad import optim

# name -> (settings of group 0, settings of group 1): every option each optimizer has, per group
GROUPS = {
    "SGD": (dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    "Adam": (dict(lr=0.05, betas=(0.8, 0.95), amsgrad=True), dict(lr=0.01, weight_decay=0.1, maximize=True)),
    "AdamW": (dict(lr=0.05, weight_decay=0.0), dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    "Adagrad": (dict(lr=0.3, lr_decay=0.1), dict(lr=0.1, weight_decay=0.1, maximize=True)),
    "RMSprop": (dict(lr=0.01, momentum=0.9, centered=True), dict(lr=0.02, alpha=0.5, weight_decay=0.1)),
}
NAMES = list(GROUPS)


class Pair:
    """The same parameters and optimizer in minigrad and in torch, fed identical gradients."""

    def __init__(self, name, dtype=np.float64, seed=0, **defaults):
        init = [v.astype(dtype) for v in initial_values(seed)]
        self.ours = [mg.tensor(v, requires_grad=True) for v in init]
        self.theirs = [torch.tensor(v, requires_grad=True) for v in init]
        first, second = GROUPS[name]
        self.opt = getattr(optim, name)([{"params": self.ours[:1], **first},
                                         {"params": self.ours[1:2], **second}], **defaults)
        self.torch_opt = getattr(torch.optim, name)([{"params": self.theirs[:1], **first},
                                                     {"params": self.theirs[1:2], **second}], **defaults)
        self.step_count = 0

    def set_gradients(self, skip=(), poison=None):
        """Gradients at the current point (the same numbers on both sides); ``skip``: indices left at None."""
        grads = gradient_of([p.data for p in self.ours], self.step_count)
        if poison is not None:
            grads[0].flat[:3] = poison
        for i, (a, b, g) in enumerate(zip(self.ours, self.theirs, grads)):
            a.grad, b.grad = (None, None) if i in skip else (mg.tensor(g), torch.tensor(g))

    def step(self, **gradient_options):
        self.set_gradients(**gradient_options)
        self.opt.step()
        self.torch_opt.step()
        self.step_count += 1

    def assert_same(self, rtol=1e-12):
        for a, b in zip(self.ours, self.theirs):
            assert a.data.dtype == b.detach().numpy().dtype
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=rtol)
        for a, b in zip(self.ours, self.theirs):
            ours, theirs = self.opt.state.get(a, {}), self.torch_opt.state.get(b, {})
            assert set(ours) == set(theirs), (ours.keys(), theirs.keys())
            for key, value in theirs.items():
                value = value.item() if value.ndim == 0 else value.numpy()
                np.testing.assert_allclose(ours[key], value, rtol=rtol, atol=rtol, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_and_a_group_added_later_match_torch(name):
    pair = Pair(name)
    for step in range(8):
        if step == 3:  # a third group with its own lr, defaults for the rest
            pair.opt.add_param_group({"params": [pair.ours[2]], "lr": 0.03})
            pair.torch_opt.add_param_group({"params": [pair.theirs[2]], "lr": 0.03})
            assert pair.opt.param_groups[2].keys() >= {k for k in pair.torch_opt.param_groups[2]
                                                       if k in pair.torch_opt.defaults and k in pair.opt.defaults}
        pair.step()
        pair.assert_same()


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_without_gradient_is_skipped_like_torch(name):
    pair = Pair(name)
    before = pair.ours[1].data.copy()
    for step in range(6):
        pair.step(skip=(1,) if step < 3 else ())
        if step < 3:
            np.testing.assert_array_equal(pair.ours[1].data, before)  # no decay, no momentum, no change
        pair.assert_same()


@pytest.mark.parametrize("name", NAMES)
def test_zero_grad_sets_none_by_default_and_zeros_on_request_like_torch(name):
    pair = Pair(name)
    pair.set_gradients()
    pair.opt.zero_grad()
    pair.torch_opt.zero_grad()
    assert pair.theirs[0].grad is None and pair.ours[0].grad is None
    pair.set_gradients()
    pair.opt.zero_grad(set_to_none=False)
    pair.torch_opt.zero_grad(set_to_none=False)
    for a, b in zip(pair.ours[:2], pair.theirs[:2]):
        np.testing.assert_array_equal(a.grad.data, b.grad.numpy())
        assert not a.grad.data.any()
    pair.opt.step()  # a zero gradient is a real step (weight decay, momentum, state), unlike a None one
    pair.torch_opt.step()
    pair.assert_same()


@pytest.mark.parametrize("name", NAMES)
def test_changing_group_lr_by_hand_takes_effect_like_torch(name):
    pair = Pair(name)
    for step in range(6):
        if step == 2:
            pair.opt.param_groups[0]["lr"] = pair.torch_opt.param_groups[0]["lr"] = 0.001
            pair.opt.param_groups[1]["weight_decay"] = pair.torch_opt.param_groups[1]["weight_decay"] = 0.5
        pair.step()
        pair.assert_same()


@pytest.mark.parametrize("fresh", [False, True], ids=["same-optimizer", "fresh-optimizer"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_mid_training_continues_bitwise(name, fresh):
    uninterrupted, resumed = Pair(name), Pair(name)
    for _ in range(4):
        uninterrupted.step()
        resumed.step()
    checkpoint = resumed.opt.state_dict()
    resumed.step()  # a step taken after the checkpoint, then undone by loading it
    for p, saved in zip(resumed.ours, [p.data.copy() for p in uninterrupted.ours]):
        p.data[...] = saved
    resumed.step_count = uninterrupted.step_count
    if fresh:
        resumed.opt = getattr(optim, name)([{"params": resumed.ours[:1]}, {"params": resumed.ours[1:2]}], lr=1.0)
    resumed.opt.load_state_dict(checkpoint)
    assert [g["lr"] for g in resumed.opt.param_groups] == [g["lr"] for g in uninterrupted.opt.param_groups]
    for _ in range(4):
        uninterrupted.step()
        resumed.step()
    for a, b in zip(uninterrupted.ours, resumed.ours):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("name", NAMES)
def test_closure_recomputes_the_loss_and_step_returns_it_like_torch(name):
    pair = Pair(name)
    target = np.linspace(-1, 1, 12).reshape(3, 4)

    def closure_of(opt, param, tensor):
        def closure():
            opt.zero_grad()
            loss = ((param - tensor(target)) ** 2).sum() * 0.5
            loss.backward()
            return loss
        return closure

    for _ in range(4):
        ours = pair.opt.step(closure_of(pair.opt, pair.ours[0], mg.tensor))
        theirs = pair.torch_opt.step(closure_of(pair.torch_opt, pair.theirs[0], torch.tensor))
        assert math.isclose(ours.item(), theirs.item(), rel_tol=1e-12)
        pair.assert_same()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_gradients_propagate_like_torch(name, bad):
    pair = Pair(name)
    pair.step()
    pair.step(poison=bad)
    pair.step()
    for a, b in zip(pair.ours, pair.theirs):  # the same NaN/inf pattern, not masked, not spread further
        np.testing.assert_array_equal(np.isnan(a.data), np.isnan(b.detach().numpy()))
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert not np.isfinite(pair.ours[0].data).all()  # the bad value reached the parameter: nothing masked it


@pytest.mark.parametrize("name", NAMES)
def test_float32_parameters_keep_float32_state_and_match_torch(name):
    pair = Pair(name, dtype=np.float32)
    for _ in range(5):
        pair.step()
        pair.assert_same(rtol=2e-5)
    for state in pair.opt.state.values():
        for key, value in state.items():
            assert not hasattr(value, "dtype") or value.dtype == np.float32, key


@pytest.mark.parametrize("name", NAMES)
def test_weight_decay_zero_and_positive_and_maximize_match_torch(name):
    for settings in (dict(weight_decay=0.0), dict(weight_decay=0.2), dict(weight_decay=0.2, maximize=True)):
        ours_p = [mg.tensor(v, requires_grad=True) for v in initial_values(1)]
        theirs_p = [torch.tensor(v, requires_grad=True) for v in initial_values(1)]
        opt, torch_opt = getattr(optim, name)(ours_p, lr=0.05, **settings), \
            getattr(torch.optim, name)(theirs_p, lr=0.05, **settings)
        for step in range(5):
            for a, b, g in zip(ours_p, theirs_p, gradient_of([p.data for p in ours_p], step)):
                a.grad, b.grad = mg.tensor(g), torch.tensor(g)
            opt.step()
            torch_opt.step()
        for a, b in zip(ours_p, theirs_p):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_param_group_is_accepted_and_round_trips_like_torch(name):
    p, tp = mg.tensor(np.ones(3), requires_grad=True), torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = getattr(optim, name)([{"params": []}, {"params": [p]}], lr=0.1)
    topt = getattr(torch.optim, name)([{"params": []}, {"params": [tp]}], lr=0.1)
    for step in range(3):
        g = np.array([0.3, -1.0, 2.0]) * (step + 1)
        p.grad, tp.grad = mg.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [g["params"] for g in topt.state_dict()["param_groups"]]
    fresh = getattr(optim, name)([{"params": []}, {"params": [mg.tensor(p.data, requires_grad=True)]}], lr=0.1)
    fresh.load_state_dict(saved)
    theirs = topt.state_dict()["state"]
    assert {i: set(s) for i, s in fresh.state_dict()["state"].items()} == {i: set(s) for i, s in theirs.items()}
    with pytest.raises(ValueError, match=rf"{name}.load_state_dict: .*2 parameter groups"):
        getattr(optim, name)([p], lr=0.1).load_state_dict(saved)


@pytest.mark.parametrize("name", NAMES)
def test_named_parameters_are_accepted_and_kept_as_param_names_like_torch(name):
    net, tnet = mg.nn.Linear(3, 2), torch.nn.Linear(3, 2)  # float32 both
    with torch.no_grad():
        tnet.weight.copy_(torch.tensor(net.weight.data))
        tnet.bias.copy_(torch.tensor(net.bias.data))
    opt = getattr(optim, name)(net.named_parameters(), lr=0.1)
    topt = getattr(torch.optim, name)(tnet.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == topt.param_groups[0]["param_names"] == ["weight", "bias"]
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (net(mg.tensor(x)) ** 2).sum().backward()
        (tnet(torch.tensor(x)) ** 2).sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(net.weight.data, tnet.weight.detach().numpy(), rtol=2e-5, atol=1e-6)
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match=rf"{name}: every param group must have parameter names"):
        opt.add_param_group({"params": [mg.tensor(np.ones(2), requires_grad=True)]})
    with pytest.raises(ValueError):
        topt.add_param_group({"params": [torch.ones(2, requires_grad=True)]})
    with pytest.raises(ValueError, match=rf"{name}: give every parameter as \(name, tensor\) or none"):
        getattr(optim, name)([("w", mg.tensor(np.ones(2), requires_grad=True)),
                              mg.tensor(np.ones(2), requires_grad=True)], lr=0.1)
