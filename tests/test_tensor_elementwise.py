"""Element-wise ops, comparisons and logic, PyTorch's type promotion, and the creation
functions, each written once and run on minigrad and torch (tests/op_check.py)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from op_check import check, check_error

F64 = (np.float64,)

UNARY = {
    "abs": (lambda x: x.abs(), None),
    "abs_builtin": (lambda x: abs(x) * x, None),
    "rsqrt": (lambda x: x.rsqrt(), 0.2),
    "sin": (lambda x: x.sin(), None),
    "cos": (lambda x: x.cos(), None),
    "silu": (lambda lib, x: lib.nn.functional.silu(x), None),
    "clamp_both": (lambda x: x.clamp(-0.5, 0.7) * x, None),
    "clamp_min": (lambda x: x.clamp(min=0.1) * x, None),
    "clamp_max": (lambda x: x.clip(max=0.1) * x, None),
    "pow_method": (lambda x: x.pow(3), None),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_vs_torch(name):
    fn, low = UNARY[name]
    check([(3, 4)], fn, lib=fn.__code__.co_varnames[0] == "lib", low=low)
    check([()], fn, lib=fn.__code__.co_varnames[0] == "lib", low=low, dtypes=F64)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(["maximum", "minimum", "clamp_tensors"]))
def test_maximum_minimum_broadcast_vs_torch(shapes, op):
    a, b = shapes.input_shapes
    fns = {"maximum": lambda lib, x, y: lib.maximum(x, y), "minimum": lambda lib, x, y: lib.minimum(x, y),
           "clamp_tensors": lambda lib, x, y: lib.clamp(x, min=y - 1, max=y)}
    check([a, b], fns[op], lib=True, dtypes=F64)


def test_maximum_tie_splits_the_gradient_like_torch():
    check([(3,)], lambda lib, x: lib.maximum(x, x.detach()), lib=True)
    check([(3,)], lambda lib, x: lib.minimum(x * 0, x * 0 + 0), lib=True)


COMPARISONS = {
    "lt": lambda x, y: x < y, "le": lambda x, y: x <= y, "gt": lambda x, y: x > y,
    "ge": lambda x, y: x >= y, "eq": lambda x, y: x == y, "ne": lambda x, y: x != y,
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_give_bool_tensors_without_grad(name):
    op = COMPARISONS[name]
    check([(3, 4), (4,)], lambda x, y: op(x, y))
    check([(3, 4), (4,)], lambda x, y: op(x, x[0]))  # equal entries included
    check([(3, 4)], lambda x: op(x, 0.0))
    check([(3, 4)], lambda x: op(0.5, x))


def test_logical_ops_on_bool_tensors_and_bitwise_on_ints():
    check([(3, 4), (3, 4)], lambda x, y: (x > 0) & (y > 0))
    check([(3, 4), (3, 4)], lambda x, y: (x > 0) | (y > 0))
    check([(3, 4), (3, 4)], lambda x, y: (x > 0) ^ (y > 0))
    check([(3, 4)], lambda x: ~(x > 0))
    check([(3, 4), (3, 4)], lambda lib, x, y: lib.logical_and(x > 0, y), lib=True)
    check([(3, 4), (3, 4)], lambda lib, x, y: lib.logical_or(x > 0, y > 1), lib=True)
    check([(3, 4)], lambda lib, x: lib.logical_not(x > 0), lib=True)
    check([], lambda lib: (lib.tensor([6, 3]) & 5) | lib.tensor([8, 0]), lib=True)
    check([], lambda lib: ~lib.tensor([6, -3]), lib=True)


def test_tensor_eq_is_elementwise_and_hash_is_identity():
    a, b = mg.tensor([1.0, 2.0]), mg.tensor([1.0, 2.0])
    assert (a == b).tolist() == [True, True]
    assert len({a, b}) == 2 and {a: 1}[a] == 1  # identity hash: dict keys and sets still work
    assert a in [a, b] and (a == None) is False  # noqa: E711  (`in` tries identity first)
    for lib in (mg, torch):  # a multi-element comparison has no truth value, in either library
        with pytest.raises(RuntimeError):
            lib.tensor([1.0, 2.0]) in [lib.tensor([1.0, 2.0])]
    assert bool(mg.tensor([3.0]) > 2) and float(mg.tensor(2.5)) == 2.5 and int(mg.tensor([7])) == 7


# (left, right) for each dtype rule; values are built as each library's own tensors
PROMOTION = {
    "int_tensor_times_float": lambda lib: lib.tensor([1, 2, 3]) * 1.5,
    "int_tensor_plus_int": lambda lib: lib.tensor([1, 2, 3]) + 2,
    "int32_plus_int": lambda lib: lib.tensor([1, 2], dtype=lib.int32) + 7,
    "int_div_int": lambda lib: lib.tensor([1, 2, 3]) / lib.tensor([2, 2, 2]),
    "int_div_number": lambda lib: lib.tensor([1, 2, 3]) / 2,
    "number_div_int": lambda lib: 3 / lib.tensor([1, 2, 3]),
    "bool_plus_int": lambda lib: lib.tensor([True, False]) + 1,
    "bool_times_float": lambda lib: lib.tensor([True, False]) * 0.5,
    "float32_times_float": lambda lib: lib.tensor([1.0, 2.0]) * 0.1,
    "float32_plus_float64": lambda lib: lib.tensor([1.0, 2.0]) + lib.tensor([1.0, 3.0], dtype=lib.float64),
    "float32_plus_0d_float64": lambda lib: lib.tensor([1.0, 2.0]) + lib.tensor(0.5, dtype=lib.float64),
    "int_plus_0d_float64": lambda lib: lib.tensor([1, 2]) + lib.tensor(0.5, dtype=lib.float64),
    "int64_plus_float32": lambda lib: lib.tensor([1, 2]) + lib.tensor([0.5, 1.5]),
    "int32_plus_int64": lambda lib: lib.tensor([1, 2], dtype=lib.int32) + lib.tensor([1, 2]),
    "uint8_plus_int8": lambda lib: lib.tensor([1, 2], dtype=lib.uint8) + lib.tensor([1, -2], dtype=lib.int8),
    "int_matmul_float": lambda lib: lib.tensor([[1, 2]]).double() @ lib.tensor([[0.5], [1.5]], dtype=lib.float64),
    "tensor_of_ints": lambda lib: lib.tensor([1, 2, 3]),
    "tensor_of_floats": lambda lib: lib.tensor([1.0, 2.0]),
    "tensor_of_bools": lambda lib: lib.tensor([True]),
}


@pytest.mark.parametrize("name", PROMOTION)
def test_type_promotion_matches_torch(name):
    check([], PROMOTION[name], lib=True, grad=False)


def test_promotion_keeps_gradients_in_each_input_dtype():
    check([(3,)], lambda lib, x: x * x.float() + x.float() * 2, lib=True, dtypes=F64)


EINSUMS = {
    "matmul": ("ij,jk->ik", [(2, 3), (3, 4)]),
    "batched": ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    "attention": ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    "implicit": ("ij,jk", [(2, 3), (3, 4)]),
    "outer": ("i,j->ij", [(3,), (4,)]),
    "sum_out": ("ij->", [(3, 4)]),
    "transpose": ("ij->ji", [(3, 4)]),
    "trace": ("ii->", [(3, 3)]),
    "diagonal": ("ii->i", [(3, 3)]),
    "repeated_in_two": ("ii,ij->j", [(3, 3), (3, 4)]),
    "summed_only_here": ("ij,k->ik", [(2, 3), (4,)]),
    "ellipsis": ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    "ellipsis_broadcast_one": ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    "three_operands": ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    "bilinear": ("bi,ij,bj->b", [(3, 2), (2, 4), (3, 4)]),
    "spaces": ("i j , j k -> i k", [(2, 3), (3, 2)]),
}


@pytest.mark.parametrize("name", EINSUMS)
def test_einsum_forward_backward_double_backward_vs_torch(name):
    equation, shapes = EINSUMS[name]
    check(shapes, lambda lib, *xs: lib.einsum(equation, *xs), lib=True)


def test_einsum_takes_a_list_of_operands():
    check([(2, 3), (3, 4)], lambda lib, a, b: lib.einsum("ij,jk->ik", [a, b]), lib=True)


@pytest.mark.parametrize("shapes, call, error, match", [
    ([(2, 3), (4, 5)], lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), RuntimeError, "einsum"),
    ([(2, 3)], lambda lib, a: lib.einsum("ijk->i", a), RuntimeError, "einsum"),
    ([(2, 3)], lambda lib, a: lib.einsum("ij,jk->ik", a), RuntimeError, "einsum"),
    ([(2, 3)], lambda lib, a: lib.einsum("ij->iz", a), RuntimeError, "einsum"),
    ([(2, 3)], lambda lib, a: lib.clamp(a), RuntimeError, "clamp"),
])
def test_elementwise_errors_match_torch_and_name_the_op(shapes, call, error, match):
    check_error(shapes, call, error, match, lib=True)


CREATION = {
    "zeros": lambda lib: lib.zeros(2, 3), "ones_tuple": lambda lib: lib.ones((2, 3)),
    "full_float": lambda lib: lib.full((2, 2), 1.5), "full_int": lambda lib: lib.full((2,), 7),
    "full_bool": lambda lib: lib.full((2,), True), "full_dtype": lambda lib: lib.full((2,), 3, dtype=lib.float64),
    "eye": lambda lib: lib.eye(3), "eye_rect": lambda lib: lib.eye(2, 4),
    "zeros_like": lambda lib: lib.zeros_like(lib.tensor([[1, 2]])),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.tensor([1.0]), dtype=lib.float64),
    "full_like": lambda lib: lib.full_like(lib.tensor([1.0, 2.0]), 4.0),
    "empty_shape": lambda lib: lib.empty(2, 0).shape == (2, 0),
    "arange": lambda lib: lib.arange(5),
    "arange_float": lambda lib: lib.arange(0, 1, 0.25),
    "arange_dtype": lambda lib: lib.arange(1, 7, 2, dtype=lib.float64),
}


@pytest.mark.parametrize("name", CREATION)
def test_creation_functions_match_torch(name):
    ours, theirs = CREATION[name](mg), CREATION[name](torch)
    if isinstance(ours, bool):
        assert ours and theirs
        return
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "") and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_random_creation_shapes_ranges_and_seeding():
    mg.manual_seed(3)
    a = mg.rand(1000, 2)
    assert a.shape == (1000, 2) and a.dtype == np.float32 and 0 <= a.numpy().min() and a.numpy().max() < 1
    assert abs(a.numpy().mean() - 0.5) < 0.05  # 4.5 standard errors of the mean of U(0, 1)
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.rand_like(a).numpy(), a.numpy())
    b = mg.randn_like(mg.zeros(2, 3, dtype=np.float64))
    assert b.shape == (2, 3) and b.dtype == np.float64


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies_match_the_weights(replacement):
    """First draws land in category i with probability w_i / Σw; a chi-square test checks it."""
    mg.manual_seed(1)
    weights = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    n = 4000
    draws = mg.multinomial(mg.tensor(np.tile(weights, (n, 1))), 2, replacement=replacement)
    assert draws.dtype == np.int64 and draws.shape == (n, 2)
    counts = np.bincount(draws.numpy()[:, 0], minlength=5)
    expected = n * weights / weights.sum()
    assert counts[3] == 0
    chi2 = (((counts - expected) ** 2)[expected > 0] / expected[expected > 0]).sum()
    assert chi2 < 18.5, f"chi-square {chi2:.1f} with 3 degrees of freedom (p < 0.0003)"
    if not replacement:
        assert (draws.numpy()[:, 0] != draws.numpy()[:, 1]).all()


def test_multinomial_errors_like_torch():
    for call in (lambda lib: lib.multinomial(lib.tensor([0.5, 0.5]), 3),
                 lambda lib: lib.multinomial(lib.tensor([0.5, -0.1]), 1),
                 lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1)):
        check_error([], call, RuntimeError, "multinomial", lib=True)


DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


@settings(max_examples=60, deadline=None)
@given(left=st.sampled_from(DTYPES), right=st.sampled_from(DTYPES), zero_dim=st.sampled_from([None, 0, 1]),
       op=st.sampled_from(["add", "mul", "div", "maximum", "where", "cat"]), seed=st.integers(0, 100))
def test_promotion_of_random_dtype_pairs_matches_torch(left, right, zero_dim, op, seed):
    rng = np.random.default_rng(seed)
    shapes = [() if zero_dim == i else (3,) for i in range(2)]
    a, b = [(rng.integers(1, 5, s) if d != "bool" else rng.integers(0, 2, s)).astype(d)
            for s, d in zip(shapes, (left, right))]
    if op == "cat" and (a.ndim == 0 or b.ndim == 0):
        return
    if op == "div" and right == "bool":
        b = np.ones_like(b)  # no division by False (zero)
    fns = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
           "maximum": lambda lib, x, y: lib.maximum(x, y), "cat": lambda lib, x, y: lib.cat([x, y]),
           "where": lambda lib, x, y: lib.where(lib.tensor([True, False, True]), x, y)}
    fn = fns[op]
    run = (lambda lib: fn(lib, lib.tensor(a), lib.tensor(b))) if fn.__code__.co_argcount == 3 else \
        (lambda lib: fn(lib.tensor(a), lib.tensor(b)))
    check([], run, lib=True, grad=False)
