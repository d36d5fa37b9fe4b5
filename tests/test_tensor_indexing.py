"""Indexing with PyTorch's rules, gather, masked_fill, tril/triu, where and one_hot,
each written once and run on minigrad and torch (tests/op_check.py). Gradients of
indexing scatter-ADD: an element picked twice receives both contributions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from op_check import check, check_error

F64 = (np.float64,)

INDEXES = {  # each a function of (lib, x) for x of shape (3, 4, 5)
    "int": lambda lib, x: x[1],
    "negative_int": lambda lib, x: x[-1, -2],
    "slices": lambda lib, x: x[1:3, ::2, 1:],
    "none_ellipsis": lambda lib, x: x[None, ..., 0, None],
    "int_tensor_repeated": lambda lib, x: x[lib.tensor([0, 2, 0, 0])],
    "int_list": lambda lib, x: x[[0, 2, 0]],
    "two_int_lists": lambda lib, x: x[[0, 1, 1], [1, 2, 1]],
    "list_after_slice": lambda lib, x: x[:, [3, 0, 3]],
    "lists_split_by_slice": lambda lib, x: x[[0, 2], :, [1, 1]],  # advanced dims move to the front
    "bool_mask_full": lambda lib, x: x[x > 0],
    "bool_mask_dim0": lambda lib, x: x[lib.tensor([True, False, True])],
    "bool_mask_last": lambda lib, x: x[..., lib.tensor([True, False, True, True, False])],
    "int_tensor_2d": lambda lib, x: x[lib.tensor([[0, 1], [2, 2]])],
    "int_then_tensor": lambda lib, x: x[0, lib.tensor([1, 0, 1])],
    "zero_dim_tensor": lambda lib, x: x[lib.tensor(1)],
    "empty_list": lambda lib, x: x[lib.tensor([], dtype=lib.int64)],
    "negative_tensor": lambda lib, x: x[:, lib.tensor([-1, -4])],
}


@pytest.mark.parametrize("name", INDEXES)
def test_indexing_forward_backward_vs_torch(name):
    check([(3, 4, 5)], lambda lib, x: INDEXES[name](lib, x) ** 2, lib=True)


def _positive_steps(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, slice) or p.step is None or p.step > 0 for p in parts)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
def test_basic_indices_vs_torch(data, shape):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True).filter(_positive_steps))  # torch has no negative steps
    check([shape], lambda x: x[index] * 2, dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_integer_array_indices_vs_torch(data, shape):
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)))
    check([shape], lambda lib, x: x[tuple(lib.tensor(i.astype(np.int64)) for i in index)] ** 2, lib=True, dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_gather_vs_torch(data, shape):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = [data.draw(st.integers(0, n)) for n in shape]
    index_shape[dim] = data.draw(st.integers(0, 4))
    index = np.random.default_rng(0).integers(0, shape[dim], index_shape)
    check([shape], lambda lib, x: x.gather(dim, lib.tensor(index)) ** 2, lib=True, dtypes=F64)
    check([shape], lambda lib, x: lib.gather(x, dim, lib.tensor(index)) * 3, lib=True, dtypes=F64)


def test_masked_fill_causal_mask_then_softmax():
    def attend(lib, scores):
        mask = lib.ones(4, 4).tril() == 0  # (T, T) broadcast over (B, H, T, T)
        return scores.masked_fill(mask, float("-inf")).softmax(-1)
    check([(2, 3, 4, 4)], attend, lib=True)
    check([(3, 4)], lambda x: x.masked_fill(x > 0.5, 2.0) * x)


@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
def test_tril_triu_vs_torch(diagonal):
    check([(3, 4)], lambda x: x.tril(diagonal) ** 2)
    check([(2, 4, 3)], lambda x: x.triu(diagonal) ** 2)
    check([(2, 3, 3)], lambda lib, x: lib.tril(x, diagonal) + lib.triu(x, diagonal), lib=True)


def test_where_with_tensors_and_numbers_vs_torch():
    check([(3, 4), (4,)], lambda lib, x, y: lib.where(x > 0, x, y), lib=True)
    check([(3, 4)], lambda lib, x: lib.where(x > 0, x, 0.0), lib=True)
    check([(3, 4)], lambda lib, x: lib.where(x > 0, 1.0, x), lib=True)
    check([(3, 4)], lambda lib, x: lib.where(x > 0, 1.0, 0.0), lib=True)  # numbers give the default float dtype
    check([(3, 4)], lambda lib, x: lib.where(x > 0, 1, 0), lib=True)  # ... and int64 for ints
    check([(3, 4)], lambda x: x.where(x < 0, x * 2))


def test_one_hot_vs_torch():
    check([], lambda lib: lib.nn.functional.one_hot(lib.tensor([[0, 3], [1, 1]])), lib=True, grad=False)
    check([], lambda lib: lib.nn.functional.one_hot(lib.tensor([2, 0]), num_classes=5), lib=True, grad=False)


def test_repeated_index_gradient_accumulates_exactly():
    x = mg.zeros(3, requires_grad=True)
    x[mg.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 1])


@pytest.mark.parametrize("shapes, call, error, match", [
    ([(3, 4)], lambda x: x[3], IndexError, "getitem"),
    ([(3, 4)], lambda x: x[:, 4], IndexError, "getitem"),
    ([(3, 4)], lambda lib, x: x[lib.tensor([True, False])], IndexError, "getitem"),
    ([(3, 4)], lambda lib, x: x[lib.tensor([0.5])], IndexError, "getitem"),
    ([(3, 4)], lambda x: x.masked_fill(x, 0.0), RuntimeError, "masked_fill"),
    ([(3, 4)], lambda lib, x: x.masked_fill(lib.ones(2, 4) > 0, 0.0), RuntimeError, "masked_fill"),
    ([(3,)], lambda x: x.tril(), RuntimeError, "tril"),
    ([(3, 4)], lambda lib, x: x.gather(2, lib.tensor([[0]])), IndexError, "gather"),
    ([(3, 4)], lambda lib, x: x.gather(1, lib.tensor([0, 1])), RuntimeError, "gather"),
    ([(3, 4)], lambda lib, x: x.gather(1, lib.tensor([[4]])), RuntimeError, "gather"),
    ([(3, 4)], lambda lib, x: lib.where(x, x, x), RuntimeError, "where"),
    ([], lambda lib: lib.nn.functional.one_hot(lib.tensor([3]), 2), RuntimeError, "one_hot"),
    ([], lambda lib: lib.nn.functional.one_hot(lib.tensor([-1])), RuntimeError, "one_hot"),
])
def test_indexing_errors_match_torch_and_name_the_op(shapes, call, error, match):
    lib = call.__code__.co_varnames[:1] == ("lib",)
    check_error(shapes, call, error, match, lib=lib)
