"""Shape ops with PyTorch's meaning (transpose swaps two dims, permute reorders, view,
unsqueeze, expand, repeat, cat, split, ...), each written once and run on minigrad and
torch (tests/op_check.py), shapes from hypothesis with 0-d, empty and negative dims."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from op_check import check, check_error

F64 = (np.float64,)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def signed_dim(data, ndim, extra=0):
    span = max(ndim + extra, 1)
    return data.draw(st.integers(-span, span - 1))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_transpose_swaps_two_dims_like_torch(shape, data):
    d0, d1 = signed_dim(data, len(shape)), signed_dim(data, len(shape))
    check([shape], lambda x: x.transpose(d0, d1) * 2, dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_permute_vs_torch(shape, data):
    order = data.draw(st.permutations(range(len(shape))))
    dims = [d - len(shape) if data.draw(st.booleans()) else d for d in order]
    check([shape], lambda x: x.permute(*dims) ** 2, dtypes=F64)
    check([shape], lambda x: x.permute(dims).sum(0), dtypes=F64)


def test_T_and_mT_vs_torch():
    check([(3, 4)], lambda x: x.T @ x)
    check([(2, 3, 4)], lambda x: x.mT @ x)
    check([(4,)], lambda x: x.T * 2)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_unsqueeze_squeeze_flatten_vs_torch(shape, data):
    n = len(shape)
    d = signed_dim(data, n, extra=1)
    check([shape], lambda x: x.unsqueeze(d) * 3, dtypes=F64)
    check([shape], lambda x: x.squeeze() * 3, dtypes=F64)
    s = signed_dim(data, n)
    check([shape], lambda x: x.squeeze(s) * 3, dtypes=F64)
    start, end = sorted([data.draw(st.integers(0, max(n - 1, 0))), data.draw(st.integers(0, max(n - 1, 0)))])
    check([shape], lambda x: x.flatten(start, end - n if n and data.draw(st.booleans()) else end) * 3, dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_view_reshape_infer_one_dim(shape):
    numel = int(np.prod(shape))
    check([shape], lambda x: x.view(-1) * 2, dtypes=F64)
    check([shape], lambda x: x.reshape(shape[0], -1) ** 2, dtypes=F64)
    check([shape], lambda x: x.reshape((numel,)).view(1, numel, 1).sum(-1), dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_expand_and_repeat_vs_torch(shape, data):
    n = len(shape)
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
    target = [data.draw(st.sampled_from([-1, n_i] if n_i != 1 else [-1, 1, 3])) for n_i in shape]
    if lead or target:
        check([shape], lambda x: x.expand(*lead, *target) * 2, dtypes=F64)
        check([shape], lambda x: x.expand_as(x.expand(*lead, *target)) * 2, dtypes=F64)
    reps = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n + 2))
    if reps:
        check([shape], lambda x: x.repeat(*reps) ** 2, dtypes=F64)


def test_size_numel_dim_contiguous_clone():
    check([(2, 3, 4)], lambda x: x.clone() * x.contiguous())
    for lib in (mg, __import__("torch")):
        x = lib.zeros(2, 3, 4)
        assert tuple(x.size()) == (2, 3, 4) and x.size(-1) == 4 and x.size(0) == 2
        assert x.numel() == 24 and x.dim() == 3 and x.ndim == 3
    y = mg.ones(3, requires_grad=True)
    c = y.clone()
    assert c is not y and c.requires_grad and not c.is_leaf
    assert y.detach().requires_grad is False


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5), data=st.data())
def test_cat_split_chunk_stack_vs_torch(shape, data):
    n = len(shape)
    d = signed_dim(data, n)
    other = list(shape)
    other[d] = data.draw(st.integers(0, 3))
    check([shape, tuple(other)], lambda lib, a, b: lib.cat([a, b], dim=d) * 2, lib=True, dtypes=F64)
    check([shape, shape], lambda lib, a, b: lib.stack([a, b], dim=-1) * 2,
          lib=True, dtypes=F64)
    size = shape[d]
    step = data.draw(st.integers(1, max(size, 1)))
    check([shape], lambda x: x.split(step, dim=d)[-1] * 2, dtypes=F64)
    cut = data.draw(st.integers(0, size))
    check([shape], lambda x: x.split([cut, size - cut], d)[0] * 2, dtypes=F64)
    chunks = data.draw(st.integers(1, 4))
    check([shape], lambda x: x.chunk(chunks, d)[0] * 2, dtypes=F64)
    check([shape], lambda lib, x: lib.cat(x.chunk(chunks, d), d) * 2, lib=True, dtypes=F64)


def test_split_pieces_each_carry_their_gradient():
    check([(5, 3)], lambda lib, x: lib.cat([p * (i + 1) for i, p in enumerate(x.split(2))], 0), lib=True)
    check([(6, 2)], lambda x: (lambda q, k, v: q * k + v)(*x.chunk(3, dim=0)))


def test_cat_promotes_dtypes_like_torch():
    check([(2, 3)], lambda lib, x: lib.cat([x, x.float()], 1), lib=True)


@pytest.mark.parametrize("shapes, call, error, match", [
    ([(2, 3)], lambda x: x.transpose(0, 2), IndexError, "transpose"),
    ([(2, 3)], lambda x: x.permute(0, 0), RuntimeError, "permute"),
    ([(2, 3)], lambda x: x.permute(1, 0, 2), RuntimeError, "permute"),
    ([(2, 3)], lambda x: x.unsqueeze(3), IndexError, "unsqueeze"),
    ([(2, 3)], lambda x: x.squeeze(2), IndexError, "squeeze"),
    ([(2, 3)], lambda x: x.view(4, -1), RuntimeError, "reshape"),
    ([(2, 3)], lambda x: x.reshape(-1, -1), RuntimeError, "reshape"),
    ([(2, 3)], lambda x: x.expand(4, 3, 2), RuntimeError, "expand"),
    ([(2, 3)], lambda x: x.expand(3), RuntimeError, "expand"),
    ([(2, 3)], lambda x: x.repeat(2), RuntimeError, "repeat"),
    ([(2, 3)], lambda x: x.split([1, 2]), RuntimeError, "split"),
    ([(2, 3)], lambda x: x.split(2, dim=2), IndexError, "split"),
    ([(2, 3)], lambda x: x.chunk(0), RuntimeError, "chunk"),
    ([(2, 3)], lambda x: x.flatten(1, 0), RuntimeError, "flatten"),
    ([(2, 3), (3, 3)], lambda lib, a, b: lib.cat([a, b], 1), RuntimeError, "cat"),
    ([(2, 3), (3,)], lambda lib, a, b: lib.cat([a, b]), RuntimeError, "cat"),
    ([(2, 3), (2, 3)], lambda lib, a, b: lib.cat([a, b], 2), IndexError, "cat"),
    ([(2, 3), (3, 2)], lambda lib, a, b: lib.stack([a, b]), RuntimeError, "stack"),
    ([(2,)], lambda x: x.mT, RuntimeError, "mT"),
])
def test_shape_errors_match_torch_and_name_the_op(shapes, call, error, match):
    lib = call.__code__.co_varnames[0] == "lib"
    check_error(shapes, call, error, match, lib=lib)
