"""optim.Adam and optim.AdamW against torch.optim, step by step."""
import itertools

import numpy as np
import pytest
import torch
from optim_side_by_side import assert_matches_torch, assert_resumes_bit_identically, run_side_by_side

import minigrad as mg
from minigrad import optim

SETTINGS = [dict(weight_decay=wd, amsgrad=ams, maximize=mx)
            for wd, ams, mx in itertools.product([0.0, 0.1], [False, True], [False, True])]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_adam_family_matches_torch_for_20_steps(name, settings):
    assert_matches_torch(name, lr=0.05, betas=(0.8, 0.95), eps=1e-6, **settings)


def test_adamw_default_decay_matches_torch_default():
    assert_matches_torch("AdamW", lr=0.01)


def test_adam_first_step_moves_every_coordinate_by_lr():
    # Closed form: after one step m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so the step is lr*sign(g) (eps aside).
    p = mg.tensor(np.zeros(4), requires_grad=True)
    p.grad = mg.tensor(np.array([3.0, -0.2, 1e3, -7.0]))
    optim.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1, 0.1], rtol=1e-15)


def test_adam_state_dict_reload_continues_bit_identically():
    opt, _, _ = run_side_by_side(lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
                                 lambda ps: torch.optim.Adam(ps, lr=0.05, amsgrad=True), num_steps=7)
    resumed = assert_resumes_bit_identically(opt, lambda ps: optim.Adam(ps, lr=1.0), 7, 12)
    assert resumed.state[resumed._params()[0]]["step"] == 12


def test_adam_rejects_invalid_hyper_parameters():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"Adam: invalid betas\[1\] 1.0 \(must lie in \[0, 1\)\)"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="AdamW: invalid lr -1"):
        optim.AdamW([p], lr=-1)
