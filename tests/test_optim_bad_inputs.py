"""Bad hyper-parameters and scheduler arguments: each raises torch's error type, naming the class.

Where torch raises, the same call is made in torch and the error types must agree.
Where torch accepts the value and then computes nonsense (a NaN lr in SGD, step_size=0,
T_max=0, a negative factor), minigrad refuses it with a ValueError instead: marked
``torch_accepts`` below, and checked to really be accepted by torch, so the list stays honest.
"""
import inspect
import math
import warnings

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler as S

T = torch.optim.lr_scheduler
nan = math.nan


def ours_param():
    return mg.tensor(np.zeros(2), requires_grad=True)


def torch_param():
    return torch.zeros(2, requires_grad=True)


# (optimizer, bad keyword arguments, does torch accept them?)
OPTIMIZER_CASES = [
    ("SGD", dict(lr=-0.1), False), ("SGD", dict(lr=nan), True), ("SGD", dict(momentum=-0.9), False),
    ("SGD", dict(momentum=nan), True), ("SGD", dict(weight_decay=-1e-4), False), ("SGD", dict(weight_decay=nan), True),
    ("SGD", dict(dampening=nan), True), ("SGD", dict(nesterov=True), False),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), False),
    ("Adam", dict(lr=-1e-3), False), ("Adam", dict(lr=nan), False), ("Adam", dict(eps=-1e-8), False),
    ("Adam", dict(eps=nan), False), ("Adam", dict(betas=(1.0, 0.999)), False), ("Adam", dict(betas=(0.9, 1.0)), False),
    ("Adam", dict(betas=(-0.1, 0.999)), False), ("Adam", dict(betas=(0.9, nan)), False),
    ("Adam", dict(weight_decay=-0.1), False), ("Adam", dict(weight_decay=nan), False),
    ("AdamW", dict(lr=-1e-3), False), ("AdamW", dict(betas=(0.9, 1.5)), False), ("AdamW", dict(weight_decay=-0.01), False),
    ("Adagrad", dict(lr=nan), False), ("Adagrad", dict(lr_decay=-0.1), False), ("Adagrad", dict(lr_decay=nan), False),
    ("Adagrad", dict(weight_decay=nan), False), ("Adagrad", dict(initial_accumulator_value=-1.0), False),
    ("Adagrad", dict(eps=nan), False),
    ("RMSprop", dict(lr=nan), False), ("RMSprop", dict(alpha=-0.5), False), ("RMSprop", dict(alpha=nan), False),
    ("RMSprop", dict(eps=nan), False), ("RMSprop", dict(momentum=nan), False), ("RMSprop", dict(weight_decay=-1), False),
]


@pytest.mark.parametrize("name, kwargs, torch_accepts", OPTIMIZER_CASES,
                         ids=[f"{n}-{k}" for n, k, _ in OPTIMIZER_CASES])
def test_bad_optimizer_hyperparameter_raises_value_error_naming_the_optimizer(name, kwargs, torch_accepts):
    kwargs = {"lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}: "):
        getattr(optim, name)([ours_param()], **kwargs)
    if torch_accepts:  # minigrad refuses on purpose: torch would make every parameter NaN on the first step
        getattr(torch.optim, name)([torch_param()], **kwargs)
    else:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch_param()], **kwargs)


def test_betas_that_are_not_a_pair_raise_a_value_error_naming_the_optimizer():
    with pytest.raises(IndexError):  # torch fails by accident on one beta
        torch.optim.Adam([torch_param()], betas=(0.9,))
    for name in ("Adam", "AdamW", "LAMB"):
        with pytest.raises(ValueError, match=rf"{name}: betas must be a pair"):
            getattr(optim, name)([ours_param()], betas=(0.9,))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"])
def test_signatures_and_defaults_are_torch_2s(name):
    """Same positional order and defaults as torch 2.x, for every argument minigrad has."""
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    for arg, parameter in ours.items():
        assert arg in theirs, arg
        assert parameter.default == theirs[arg].default or arg == "params", arg
    positional = [a for a, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [a for a in theirs if a in positional]
    assert [a for a in theirs if theirs[a].kind is theirs[a].POSITIONAL_OR_KEYWORD][:len(positional)] == positional


def test_sgd_without_lr_uses_torch_default_and_sgd_positional_weight_decay_means_the_same():
    p, tp = ours_param(), torch_param()
    p.data[...] = tp.data[...] = 1.0
    opt, topt = optim.SGD([p], 0.1, 0.9, 0.0, 0.01, True), torch.optim.SGD([tp], 0.1, 0.9, 0.0, 0.01, True)
    assert optim.SGD([ours_param()]).defaults["lr"] == torch.optim.SGD([torch_param()]).defaults["lr"] == 1e-3
    for _ in range(3):
        p.grad, tp.grad = mg.tensor(np.array([0.5, -2.0])), torch.tensor([0.5, -2.0])
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)


def test_adam_decoupled_weight_decay_is_adamw_as_in_torch():
    p, q, tp = ours_param(), ours_param(), torch_param()
    adam = optim.Adam([p], lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)
    adamw, tadam = optim.AdamW([q], lr=0.1, weight_decay=0.1), \
        torch.optim.Adam([tp], lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)
    for param in (p, q):
        param.data[...] = [1.0, -3.0]
    tp.data[...] = torch.tensor([1.0, -3.0])
    for _ in range(3):
        p.grad, q.grad, tp.grad = mg.tensor(np.array([0.5, 2.0])), mg.tensor(np.array([0.5, 2.0])), \
            torch.tensor([0.5, 2.0])
        for opt in (adam, adamw, tadam):
            opt.step()
    np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)


def momentum_sgd(library):
    return (optim.SGD([ours_param()], lr=0.1, momentum=0.9) if library == "ours"
            else torch.optim.SGD([torch_param()], lr=0.1, momentum=0.9))


# (scheduler, minigrad call, torch call, does torch accept it?) -- each call takes the optimizer
SCHEDULER_CASES = [
    ("StepLR", lambda o: S.StepLR(o, step_size=0), lambda o: T.StepLR(o, step_size=0), True),
    ("StepLR", lambda o: S.StepLR(o, step_size=-2), lambda o: T.StepLR(o, step_size=-2), True),
    ("StepLR", lambda o: S.StepLR(o, 2, gamma=-0.5), lambda o: T.StepLR(o, 2, gamma=-0.5), True),
    ("StepLR", lambda o: S.StepLR(o, 2, gamma=nan), lambda o: T.StepLR(o, 2, gamma=nan), True),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=0), lambda o: T.CosineAnnealingLR(o, T_max=0), True),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=-5), lambda o: T.CosineAnnealingLR(o, -5), True),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, 5, eta_min=-0.1),
     lambda o: T.CosineAnnealingLR(o, 5, eta_min=-0.1), True),
    ("LinearWarmup", lambda o: S.LinearWarmup(o, 5, start_factor=0.0), lambda o: T.LinearLR(o, 0.0, 1.0, 5), False),
    ("LinearWarmup", lambda o: S.LinearWarmup(o, 5, start_factor=1.5), lambda o: T.LinearLR(o, 1.5, 1.0, 5), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0), lambda o: T.OneCycleLR(o, 1.0), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, epochs=3), lambda o: T.OneCycleLR(o, 1.0, epochs=3), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=0), lambda o: T.OneCycleLR(o, 1.0, total_steps=0), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=10.0),
     lambda o: T.OneCycleLR(o, 1.0, total_steps=10.0), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.2),
     lambda o: T.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.2), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="cosine"),
     lambda o: T.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="cosine"), False),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=-4), lambda o: T.CyclicLR(o, 0.01, 0.1, -4), True),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=-1),
     lambda o: T.CyclicLR(o, 0.01, 0.1, 4, -1), True),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1, mode="triangle"),
     lambda o: T.CyclicLR(o, 0.01, 0.1, mode="triangle"), False),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1, scale_fn=abs, scale_mode="iteration"),
     lambda o: T.CyclicLR(o, 0.01, 0.1, scale_fn=abs, scale_mode="iteration"), True),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, mode="minimum"),
     lambda o: T.ReduceLROnPlateau(o, mode="minimum"), False),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, threshold_mode="relative"),
     lambda o: T.ReduceLROnPlateau(o, threshold_mode="relative"), False),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, factor=1.0), lambda o: T.ReduceLROnPlateau(o, factor=1.0), False),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, factor=-0.5), lambda o: T.ReduceLROnPlateau(o, factor=-0.5), True),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, patience=-1), lambda o: T.ReduceLROnPlateau(o, patience=-1), True),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, threshold=-1e-4),
     lambda o: T.ReduceLROnPlateau(o, threshold=-1e-4), True),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]),
     lambda o: T.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]), False),
    ("LambdaLR", lambda o: S.LambdaLR(o, [abs, abs]), lambda o: T.LambdaLR(o, [abs, abs]), False),
    ("CyclicLR", lambda o: S.CyclicLR(o, [0.01, 0.02], 0.1), lambda o: T.CyclicLR(o, [0.01, 0.02], 0.1), False),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8, 0.7]),
     lambda o: T.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8, 0.7]), False),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, [1.0, 2.0], total_steps=10),
     lambda o: T.OneCycleLR(o, [1.0, 2.0], total_steps=10), False),
]


@pytest.mark.parametrize("name, ours, theirs, torch_accepts", SCHEDULER_CASES,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(SCHEDULER_CASES)])
def test_bad_scheduler_argument_raises_value_error_naming_the_scheduler(name, ours, theirs, torch_accepts):
    with pytest.raises(ValueError, match=rf"^{name}"):
        ours(momentum_sgd("ours"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if torch_accepts:  # a schedule that divides by zero later, or drives the lr negative or NaN
            try:
                theirs(momentum_sgd("torch"))
            except ZeroDivisionError:  # CyclicLR(step_size_up<=0) with torch: an accident, not a check
                pass
        else:
            with pytest.raises(ValueError):
                theirs(momentum_sgd("torch"))


def test_scheduler_type_errors_match_torch():
    for make in (lambda o: S.StepLR(o, 2), lambda o: S.ReduceLROnPlateau(o), lambda o: S.CyclicLR(o, 0.1, 1.0),
                 lambda o: S.OneCycleLR(o, 1.0, total_steps=5)):
        with pytest.raises(TypeError, match="is not an Optimizer"):
            make("not an optimizer")
    with pytest.raises(TypeError):
        T.StepLR("not an optimizer", 2)
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be a function"):
        S.LambdaLR(momentum_sgd("ours"), 0.5)
    with pytest.raises(TypeError):
        T.LambdaLR(momentum_sgd("torch"), 0.5)
    with pytest.raises(TypeError):  # the metric is required, as in torch
        S.ReduceLROnPlateau(momentum_sgd("ours")).step()


def test_plateau_counts_a_nan_metric_as_a_bad_epoch_like_torch():
    ours, theirs = S.ReduceLROnPlateau(momentum_sgd("ours")), T.ReduceLROnPlateau(momentum_sgd("torch"))
    for value in (1.0, nan, nan, 0.5):
        ours.step(value)
        theirs.step(value)
        assert (ours.best, ours.num_bad_epochs) == (theirs.best, theirs.num_bad_epochs)
