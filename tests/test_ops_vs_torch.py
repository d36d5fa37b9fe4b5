"""Every op: forward and backward against PyTorch, float64 to 1e-10 and float32 to 1e-5,
double backward for the smooth ones, broadcasting shapes drawn by hypothesis."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F
from torch_compare import check_vs_torch

# name: (input shapes, torch expression, minigrad expression, domain lower bound, smooth?)
OPS = {
    "add": ([(3, 4), (3, 4)], lambda a, b: a + b, lambda a, b: a + b, None, True),
    "sub": ([(3, 4), (3, 4)], lambda a, b: a - b, lambda a, b: a - b, None, True),
    "mul": ([(3, 4), (3, 4)], lambda a, b: a * b, lambda a, b: a * b, None, True),
    "div": ([(3, 4), (3, 4)], lambda a, b: a / b, lambda a, b: a / b, 0.5, True),
    "neg": ([(3, 4)], lambda a: -a, lambda a: -a, None, True),
    "pow3": ([(3, 4)], lambda a: a ** 3, lambda a: a ** 3, None, True),
    "pow_frac": ([(3, 4)], lambda a: a ** 1.5, lambda a: a ** 1.5, 0.1, True),
    "rpow": ([(3, 4)], lambda a: 2.0 ** a, lambda a: 2.0 ** a, None, True),
    "matmul": ([(3, 4), (4, 5)], lambda a, b: a @ b, lambda a, b: a @ b, None, True),
    "matmul_batched": ([(2, 3, 4), (4, 5)], lambda a, b: a @ b, lambda a, b: a @ b, None, True),
    "matmul_batch_bcast": ([(2, 1, 3, 4), (5, 4, 2)], torch.matmul, mg.matmul, None, True),
    "matmul_vec_mat": ([(4,), (4, 5)], torch.matmul, mg.matmul, None, True),
    "matmul_mat_vec": ([(3, 4), (4,)], torch.matmul, mg.matmul, None, True),
    "matmul_dot": ([(4,), (4,)], torch.matmul, mg.matmul, None, True),
    "linear": ([(5, 3), (4, 3), (4,)], torch.nn.functional.linear, mg.linear, None, True),
    "linear_3d": ([(2, 5, 3), (4, 3), (4,)], torch.nn.functional.linear, mg.linear, None, True),
    "exp": ([(3, 4)], torch.exp, mg.exp, None, True),
    "log": ([(3, 4)], torch.log, mg.log, 0.1, True),
    "sqrt": ([(3, 4)], torch.sqrt, mg.sqrt, 0.1, True),
    "tanh": ([(3, 4)], torch.tanh, mg.tanh, None, True),
    "sigmoid": ([(3, 4)], torch.sigmoid, mg.sigmoid, None, True),
    "relu": ([(3, 4)], torch.relu, mg.relu, None, False),
    "gelu": ([(3, 4)], torch.nn.functional.gelu, mg.gelu, None, True),
    "gelu_tanh": ([(3, 4)], lambda a: torch.nn.functional.gelu(a, approximate="tanh"),
                  lambda a: mg.gelu(a, approximate="tanh"), None, True),
    "sum_all": ([(3, 4)], lambda a: a.sum(), lambda a: a.sum(), None, True),
    "sum_axis": ([(3, 4, 2)], lambda a: a.sum(dim=1), lambda a: a.sum(axis=1), None, True),
    "sum_keepdims": ([(3, 4, 2)], lambda a: a.sum(dim=(0, 2), keepdim=True),
                     lambda a: a.sum(axis=(0, 2), keepdims=True), None, True),
    "mean_axis": ([(3, 4)], lambda a: a.mean(dim=0), lambda a: a.mean(axis=0), None, True),
    "max_all": ([(3, 4)], lambda a: a.amax(), lambda a: a.max(), None, False),
    "max_axis": ([(3, 4)], lambda a: a.amax(dim=1, keepdim=True), lambda a: a.max(axis=1, keepdims=True), None, False),
    "reshape": ([(3, 4)], lambda a: a.reshape(2, 6) * 2, lambda a: a.reshape(2, 6) * 2, None, True),
    "transpose": ([(2, 3, 4)], lambda a: a.permute(2, 0, 1) * 1.5, lambda a: a.transpose(2, 0, 1) * 1.5, None, True),
    "permute": ([(2, 3, 4)], lambda a: a.permute(1, 2, 0) ** 2, lambda a: a.permute(1, 2, 0) ** 2, None, True),
    "T": ([(3, 4)], lambda a: a.T * a.T, lambda a: a.T * a.T, None, True),
    "slice": ([(4, 5)], lambda a: a[1:3, ::2] ** 2, lambda a: a[1:3, ::2] ** 2, None, True),
    "fancy_index_repeated": ([(4, 3)], lambda a: a[[0, 2, 0, 0]] ** 2, lambda a: a[np.array([0, 2, 0, 0])] ** 2, None, True),
    "concat": ([(2, 3), (4, 3)], lambda a, b: torch.cat([a, b], 0) ** 2, lambda a, b: mg.concat([a, b], 0) ** 2, None, True),
    "stack": ([(2, 3), (2, 3)], lambda a, b: torch.stack([a, b], 1) ** 2, lambda a, b: mg.stack([a, b], 1) ** 2, None, True),
    "where": ([(3, 4), (3, 4)], lambda a, b: torch.where(a > 0, a * b, b ** 2),
              lambda a, b: mg.where(a > 0, a * b, b ** 2), None, True),
    "clip": ([(3, 4)], lambda a: torch.clamp(a, -0.5, 0.7) * a, lambda a: mg.clip(a, -0.5, 0.7) * a, None, False),
    "logsumexp": ([(3, 4)], lambda a: torch.logsumexp(a, dim=1), lambda a: mg.logsumexp(a, axis=1), None, True),
    "logsumexp_keepdims": ([(3, 4)], lambda a: torch.logsumexp(a, dim=0, keepdim=True),
                           lambda a: mg.logsumexp(a, axis=0, keepdims=True), None, True),
    "softmax": ([(3, 4)], lambda a: torch.softmax(a, dim=-1), lambda a: mg.softmax(a, axis=-1), None, True),
    "log_softmax": ([(3, 4)], lambda a: torch.log_softmax(a, dim=0), lambda a: mg.log_softmax(a, axis=0), None, True),
    "embedding": ([(5, 3)], lambda w: torch.nn.functional.embedding(torch.tensor([[1, 4], [1, 1]]), w) ** 2,
                  lambda w: F.embedding(np.array([[1, 4], [1, 1]]), w) ** 2, None, True),
    "cross_entropy": ([(6, 4)], lambda x: torch.nn.functional.cross_entropy(x, torch.tensor([0, 3, 1, 1, 2, 0])),
                      lambda x: F.cross_entropy(x, np.array([0, 3, 1, 1, 2, 0])), None, True),
    "mse_loss": ([(3, 4), (3, 4)], torch.nn.functional.mse_loss, F.mse_loss, None, True),
    "bce_with_logits": ([(3, 4)], lambda x: torch.nn.functional.binary_cross_entropy_with_logits(x, (x.detach() > 0.2).to(x.dtype) * 0.7),
                        lambda x: F.binary_cross_entropy_with_logits(x, mg.tensor(((x.numpy() > 0.2) * 0.7).astype(x.dtype), device=x.device)), None, True),
}


@pytest.mark.parametrize("name", OPS)
def test_op_forward_backward_vs_torch_float64(name, device):
    shapes, torch_fn, mg_fn, low, _ = OPS[name]
    check_vs_torch(shapes, torch_fn, mg_fn, np.float64, low=low, device=device)


@pytest.mark.parametrize("name", OPS)
def test_op_forward_backward_vs_torch_float32(name, device):
    shapes, torch_fn, mg_fn, low, _ = OPS[name]
    check_vs_torch(shapes, torch_fn, mg_fn, np.float32, low=low, device=device)


@pytest.mark.parametrize("name", [n for n, spec in OPS.items() if spec[4]])
def test_op_double_backward_vs_torch(name, device):
    shapes, torch_fn, mg_fn, low, _ = OPS[name]
    check_vs_torch(shapes, torch_fn, mg_fn, np.float64, low=low, device=device, double=True)


def broadcastable_pair():
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable_pair(), op=st.sampled_from(["add", "sub", "mul", "div"]), seed=st.integers(0, 2**16))
def test_broadcast_binary_ops_reduce_grads_to_input_shapes(shapes, op, seed):
    a_shape, b_shape = shapes.input_shapes
    torch_fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
    mg_fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    check_vs_torch([a_shape, b_shape], torch_fn, mg_fn, np.float64, seed=seed, low=0.5 if op == "div" else None)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(m,n),(n,p)->(m,p)", max_dims=2, max_side=4),
       seed=st.integers(0, 2**16))
def test_broadcast_batched_matmul_vs_torch(shapes, seed):
    check_vs_torch(list(shapes.input_shapes), torch.matmul, mg.matmul, np.float64, seed=seed, double=True)


def test_float32_model_gets_float32_grads():
    w = mg.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    x = mg.tensor(np.ones((4, 3), np.float64))  # float64 data must not leak into the float32 gradient
    (x @ w).sum().backward()
    assert w.grad.dtype == np.float32


def test_gradients_accumulate_until_zeroed():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.array([1.0, -2.0]) + 3)


def test_reused_node_sums_both_paths():
    x = mg.tensor(3.0, requires_grad=True)
    y = x * x
    (y + y * y).backward()  # d/dx (x² + x⁴) = 2x + 4x³
    assert x.grad.item() == 2 * 3 + 4 * 27
