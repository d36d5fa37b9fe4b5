"""GradScaler against torch.amp.GradScaler("cpu") fed the same gradient sequences."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import amp, optim
from minigrad.nn.utils import clip_grad_norm_

INF, NAN = np.float32(np.inf), np.float32(np.nan)


def _sequence(kind, steps, rng):
    """Per-step gradient directions c_t (loss = sum(p * c_t)); some overflow once scaled, some are NaN."""
    cs = rng.standard_normal((steps, 5)).astype(np.float32)
    if kind == "mixed":
        cs[3, 1] = INF
        cs[4, 2] = NAN
        cs[5:9, 0] = 1e35                      # finite, but S * 1e35 overflows float32: four backoffs
        cs[20:23] *= 1e-30                     # tiny gradients: fine in float32
        cs[40, :] = NAN
    return cs


def _run_both(cs, clip=None, **kwargs):
    """Train p (5,) with SGD+momentum through both scalers; yield per-step (scale, params) pairs."""
    p0 = np.linspace(-1, 1, 5, dtype=np.float32)
    p_mg = mg.tensor(p0.copy(), requires_grad=True)
    p_t = torch.tensor(p0.copy(), requires_grad=True)
    opt_mg = optim.SGD([p_mg], lr=0.25, momentum=0.5)  # powers of two: the update itself rounds alike
    opt_t = torch.optim.SGD([p_t], lr=0.25, momentum=0.5)
    s_mg, s_t = amp.GradScaler("cpu", **kwargs), torch.amp.GradScaler("cpu", **kwargs)
    for c in cs:
        opt_mg.zero_grad()
        opt_t.zero_grad()
        s_mg.scale((p_mg * mg.tensor(c)).sum()).backward()
        s_t.scale((p_t * torch.from_numpy(c)).sum()).backward()
        if clip is not None:
            s_mg.unscale_(opt_mg)
            s_t.unscale_(opt_t)
            np.testing.assert_array_equal(p_mg.grad.data, p_t.grad.numpy())  # unscaled alike, bit for bit
            clip_grad_norm_([p_mg], clip)
            torch.nn.utils.clip_grad_norm_([p_t], clip)
        s_mg.step(opt_mg)
        s_t.step(opt_t)
        s_mg.update()
        s_t.update()
        yield (s_mg, p_mg), (s_t, p_t)


@pytest.mark.parametrize("kind,steps,kwargs", [
    ("mixed", 60, dict(growth_interval=3)),
    ("mixed", 60, dict(init_scale=3.0e4, growth_factor=3.0, backoff_factor=0.3, growth_interval=5)),
    ("clean", 2100, dict()),                      # default growth_interval=2000: one growth
    ("mixed", 45, dict(init_scale=2.0**126, growth_interval=1)),  # growth to inf is refused
])
def test_scale_skips_and_params_equal_torch_at_every_step(kind, steps, kwargs):
    cs = _sequence(kind, steps, np.random.default_rng(1))
    skipped, before = 0, None
    for t, ((s_mg, p_mg), (s_t, p_t)) in enumerate(_run_both(cs, **kwargs)):
        assert s_mg.get_scale() == s_t.get_scale(), f"step {t}"
        assert s_mg._get_growth_tracker() == s_t._get_growth_tracker(), f"step {t}"
        np.testing.assert_array_equal(p_mg.data, p_t.detach().numpy(), err_msg=f"step {t}")
        if before is not None and np.array_equal(before, p_mg.data):
            skipped += 1                      # a skipped step leaves the parameters untouched
        before = p_mg.data.copy()
    assert s_mg.state_dict() == s_t.state_dict()
    if kind == "mixed":
        assert skipped >= 3                   # inf at step 3, NaN at 4 and 40 at least


def test_unscale_then_clip_equals_torch():
    """Unscaled gradients equal bit for bit (checked inside _run_both); clipping then rounds its
    norm in its own order (an ulp from PyTorch's), so the parameters are compared to float32 rounding."""
    cs = _sequence("mixed", 50, np.random.default_rng(2))
    for t, ((s_mg, p_mg), (s_t, p_t)) in enumerate(_run_both(cs, clip=0.5, growth_interval=4)):
        assert s_mg.get_scale() == s_t.get_scale()
        np.testing.assert_allclose(p_mg.data, p_t.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=f"step {t}")


def test_per_optimizer_skip_and_combined_update_as_torch():
    """An overflow in one optimizer's gradients skips that optimizer only, but the scale backs off."""
    a, b = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0], requires_grad=True)
    opt_a, opt_b = optim.SGD([a], lr=0.1), optim.SGD([b], lr=0.1)
    scaler = amp.GradScaler()
    scaler.scale((a * mg.tensor([1.0, 1.0])).sum() + (b * mg.tensor([np.inf], dtype=np.float32)).sum()).backward()
    scaler.step(opt_a)
    scaler.step(opt_b)
    scaler.update()
    np.testing.assert_array_equal(a.data, np.float32([0.9, 1.9]))   # stepped
    np.testing.assert_array_equal(b.data, np.float32([3.0]))        # skipped
    assert scaler.get_scale() == 2.0**15


def test_state_machine_errors_as_torch():
    p = mg.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    scaler = amp.GradScaler()
    with pytest.raises(RuntimeError, match="scale"):
        scaler.step(opt)                                  # scale() never called
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called since the last update"):
        scaler.step(opt)
    scaler.update()
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)                                  # allowed again after update()
    with pytest.raises(RuntimeError, match="closure"):
        scaler.step(opt, closure=lambda: None)
    with pytest.raises(ValueError, match="growth_factor"):
        amp.GradScaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff_factor"):
        amp.GradScaler(backoff_factor=1.0)
    with pytest.raises(TypeError, match="device"):
        amp.GradScaler(1024.0)


def test_update_without_step_raises():
    p = mg.tensor([1.0], requires_grad=True)
    scaler = amp.GradScaler()
    scaler.scale((p * 2).sum()).backward()
    with pytest.raises(RuntimeError, match="no inf checks"):
        scaler.update()


def test_fp16_gradients_are_refused():
    p = mg.tensor(np.float16([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    scaler = amp.GradScaler()
    scaler.scale((p * 2).sum()).backward()
    with pytest.raises(ValueError, match="FP16 gradients"):
        scaler.step(opt)


def test_state_dict_round_trip_and_new_scale():
    cs = _sequence("mixed", 45, np.random.default_rng(3))
    *_, ((s_mg, _), (s_t, _)) = _run_both(cs, growth_interval=3)
    fresh_mg, fresh_t = amp.GradScaler(), torch.amp.GradScaler("cpu")
    fresh_mg.load_state_dict(s_mg.state_dict())
    fresh_t.load_state_dict(s_t.state_dict())
    assert fresh_mg.state_dict() == fresh_t.state_dict()
    s_mg.update(new_scale=1234.5)
    s_t.update(new_scale=1234.5)
    assert s_mg.get_scale() == s_t.get_scale()
    with pytest.raises(RuntimeError, match="empty"):
        fresh_mg.load_state_dict({})


def test_disabled_scaler_is_a_passthrough_as_torch():
    p = mg.tensor([1.0, -1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    scaler = amp.GradScaler(enabled=False)
    loss = (p * 3).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(p.data, np.float32([-0.5, -2.5]))
    assert scaler.get_scale() == torch.amp.GradScaler("cpu", enabled=False).get_scale() == 1.0
    assert scaler.state_dict() == {}


def test_scale_maps_over_nested_lists_and_tuples_as_torch():
    scaler = amp.GradScaler(init_scale=4.0)
    a, b, c = (mg.tensor(np.float32([v])) for v in (1.0, 2.0, 3.0))
    out = scaler.scale([a, (b, c)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    assert [out[0].item(), out[1][0].item(), out[1][1].item()] == [4.0, 8.0, 12.0]
    with pytest.raises(ValueError, match="Tensor or an iterable"):
        scaler.scale(3.0)


@pytest.mark.parametrize("kwargs", [dict(growth_factor=float("nan")), dict(backoff_factor=0.0),
                                    dict(init_scale=-1.0), dict(init_scale=float("nan")), dict(init_scale=float("inf")),
                                    dict(growth_interval=0), dict(growth_interval=2.5)])
def test_settings_torch_accepts_but_that_break_the_scale_are_refused(kwargs):
    # torch.amp.GradScaler takes these and then never grows, zeroes, or NaNs the scale
    torch.amp.GradScaler("cpu", **kwargs)
    with pytest.raises(ValueError, match=rf"GradScaler: {next(iter(kwargs))}"):
        amp.GradScaler(**kwargs)
