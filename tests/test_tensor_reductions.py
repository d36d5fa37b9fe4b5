"""Reductions with PyTorch's dim/keepdim, index-returning ops and the softmax family,
each written once and run on minigrad and torch (tests/op_check.py). Shapes come from
hypothesis, 0-d and empty included; dims are drawn negative as often as positive."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from op_check import check, check_error

F64 = (np.float64,)


@st.composite
def shape_and_dim(draw, min_side=0, min_dims=0):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=min_side, max_side=4))
    span = max(len(shape), 1)
    return shape, draw(st.integers(-span, span - 1))


@st.composite
def shape_and_dims(draw, min_side=0):
    """A shape and a dim argument: None, one dim or a tuple of distinct dims (some negative)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=min_side, max_side=4))
    n = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]) if n else st.just("none"))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-n, n - 1))
    chosen = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return shape, tuple(d - n if draw(st.booleans()) else d for d in chosen)


@settings(max_examples=40, deadline=None)
@given(sd=shape_and_dims(), keepdim=st.booleans(), op=st.sampled_from(["sum", "mean"]))
def test_sum_mean_dim_keepdim_vs_torch(sd, keepdim, op):
    shape, dim = sd
    if dim is None:
        check([shape], lambda x: getattr(x, op)(), dtypes=F64)
    else:
        check([shape], lambda x: getattr(x, op)(dim=dim, keepdim=keepdim), dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dims(min_side=1), keepdim=st.booleans(), op=st.sampled_from(["amax", "amin", "logsumexp"]))
def test_amax_amin_logsumexp_vs_torch(sd, keepdim, op):
    shape, dim = sd
    if op == "logsumexp" and dim is None:
        dim = tuple(range(len(shape)))
    check([shape], lambda x: getattr(x, op)(dim, keepdim) if dim is not None else getattr(x, op)(), dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dim(min_side=1), keepdim=st.booleans(), op=st.sampled_from(["max", "min"]))
def test_max_min_dim_return_values_and_indices_vs_torch(sd, keepdim, op):
    shape, dim = sd
    check([shape], lambda x: getattr(x, op)(dim, keepdim=keepdim), dtypes=F64)
    check([shape], lambda x: getattr(x, op)(dim)[0] * 2 + getattr(x, op)(dim).values, dtypes=F64)


def test_max_without_dim_is_the_full_reduction_and_shares_ties():
    check([(3, 4)], lambda x: x.max())
    check([(3, 4)], lambda x: x.min())
    # ties: torch's max() splits the gradient evenly, max(dim) sends it to one index
    check([], lambda lib: lib.tensor([1.0, 3.0, 3.0], requires_grad=True).max(), lib=True, grad=False)
    for fn in (lambda x: (x * 0 + 1).max(), lambda x: (x * 0 + 1).max(0).values.sum(),
               lambda x: (x * 0 + 1).amax(1).sum()):
        check([(2, 3)], fn, dtypes=F64)


def test_max_with_a_tensor_is_maximum():
    check([(3, 4), (3, 4)], lambda x, y: x.max(y))
    check([(3, 4), (4,)], lambda x, y: x.min(y))


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dim(min_side=1), keepdim=st.booleans(), op=st.sampled_from(["argmax", "argmin"]))
def test_argmax_argmin_vs_torch(sd, keepdim, op):
    shape, dim = sd
    check([shape], lambda x: getattr(x, op)(dim, keepdim), dtypes=F64)
    check([shape], lambda x: getattr(x, op)(), dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dims(), keepdim=st.booleans(), correction=st.sampled_from([0, 1]),
       op=st.sampled_from(["var", "std"]))
def test_var_std_correction_vs_torch(sd, keepdim, correction, op):
    shape, dim = sd
    size = int(np.prod([shape[d] for d in (range(len(shape)) if dim is None else np.atleast_1d(dim))]))
    if size < 2:  # var of fewer than 2 samples is 0/0 (nan) in both; nothing to compare in its gradient
        return
    check([shape], lambda x: getattr(x, op)(dim, correction=correction, keepdim=keepdim), dtypes=F64)


def test_var_std_default_is_bessel_corrected_and_float32_works():
    check([(5, 3)], lambda x: x.var())
    check([(5, 3)], lambda x: x.std(0))
    check([(5, 3)], lambda x: x.var(1, unbiased=False))


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dim(), op=st.sampled_from(["softmax", "log_softmax", "cumsum"]))
def test_softmax_log_softmax_cumsum_dims_vs_torch(sd, op):
    shape, dim = sd
    check([shape], lambda x: getattr(x, op)(dim), dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(sd=shape_and_dim(min_side=1, min_dims=1), largest=st.booleans(), data=st.data())
def test_topk_and_sort_vs_torch(sd, largest, data):
    shape, dim = sd
    k = data.draw(st.integers(0, shape[dim]))
    check([shape], lambda x: x.topk(k, dim, largest=largest), dtypes=F64)
    check([shape], lambda x: x.sort(dim, descending=largest), dtypes=F64)


def test_integer_reductions_follow_torch_dtypes():
    for fn in (lambda lib: lib.tensor([1, 2, 3]).sum(), lambda lib: lib.tensor([[True, False]]).sum(0),
               lambda lib: lib.tensor([1, 2, 3]).cumsum(0), lambda lib: lib.tensor([4, 1, 3]).max(0),
               lambda lib: lib.tensor([4, 1, 3]).argmin(), lambda lib: lib.tensor([[4, 1], [0, 3]]).amax(-1)):
        check([], fn, lib=True, grad=False)


def test_float32_reductions_keep_float32():
    check([(4, 5)], lambda x: x.var(0) + x.mean(1, keepdim=True).sum() + x.logsumexp(1).sum(), dtypes=(np.float32,))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.sum(dim=2), IndexError, "sum"),
    (lambda x: x.mean(-3), IndexError, "mean"),
    (lambda x: x.max(2), IndexError, "max"),
    (lambda x: x.amax(dim=(0, 5)), IndexError, "amax"),
    (lambda x: x.softmax(3), IndexError, "softmax"),
    (lambda x: x.cumsum(2), IndexError, "cumsum"),
    (lambda x: x.argmax(-3), IndexError, "argmax"),
    (lambda x: x.topk(4, 1), RuntimeError, "topk"),
    (lambda x: x.sum(dim=(0, 0)), RuntimeError, "sum"),
    (lambda x: x[:0].max(), RuntimeError, "max"),
    (lambda x: x[:0].amax(0), IndexError, "amax"),
    (lambda x: x.long().mean(), RuntimeError, "mean"),
])
def test_reduction_errors_match_torch_and_name_the_op(call, error, match):
    check_error([(2, 3)], call, error, match)
