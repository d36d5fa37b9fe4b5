"""The core ops: forward, backward and double backward against PyTorch (float64 to 1e-10,
float32 to 1e-5), each written once and run on both libraries; broadcasting shapes drawn
by hypothesis. The wider Tensor surface is in test_tensor_*.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from op_check import check

# name: (input shapes, the op written once for both libraries, lib=True if it needs the module, domain lower bound)
OPS = {
    "add": ([(3, 4), (3, 4)], lambda a, b: a + b, False, None),
    "sub": ([(3, 4), (3, 4)], lambda a, b: a - b, False, None),
    "mul": ([(3, 4), (3, 4)], lambda a, b: a * b, False, None),
    "div": ([(3, 4), (3, 4)], lambda a, b: a / b, False, 0.5),
    "neg": ([(3, 4)], lambda a: -a, False, None),
    "pow3": ([(3, 4)], lambda a: a ** 3, False, None),
    "pow_frac": ([(3, 4)], lambda a: a ** 1.5, False, 0.1),
    "rpow": ([(3, 4)], lambda a: 2.0 ** a, False, None),
    "matmul": ([(3, 4), (4, 5)], lambda a, b: a @ b, False, None),
    "matmul_batched": ([(2, 3, 4), (4, 5)], lambda a, b: a @ b, False, None),
    "matmul_batch_bcast": ([(2, 1, 3, 4), (5, 4, 2)], lambda m, a, b: m.matmul(a, b), True, None),
    "matmul_vec_mat": ([(4,), (4, 5)], lambda m, a, b: m.matmul(a, b), True, None),
    "matmul_mat_vec": ([(3, 4), (4,)], lambda m, a, b: m.matmul(a, b), True, None),
    "matmul_dot": ([(4,), (4,)], lambda m, a, b: m.matmul(a, b), True, None),
    "linear": ([(5, 3), (4, 3), (4,)], lambda m, x, w, b: m.nn.functional.linear(x, w, b), True, None),
    "linear_3d": ([(2, 5, 3), (4, 3), (4,)], lambda m, x, w, b: m.nn.functional.linear(x, w, b), True, None),
    "exp": ([(3, 4)], lambda a: a.exp(), False, None),
    "log": ([(3, 4)], lambda a: a.log(), False, 0.1),
    "sqrt": ([(3, 4)], lambda a: a.sqrt(), False, 0.1),
    "tanh": ([(3, 4)], lambda a: a.tanh(), False, None),
    "sigmoid": ([(3, 4)], lambda a: a.sigmoid(), False, None),
    "relu": ([(3, 4)], lambda a: a.relu(), False, None),
    "gelu": ([(3, 4)], lambda m, a: m.nn.functional.gelu(a), True, None),
    "gelu_tanh": ([(3, 4)], lambda m, a: m.nn.functional.gelu(a, approximate="tanh"), True, None),
    "sum_all": ([(3, 4)], lambda a: a.sum(), False, None),
    "sum_dim": ([(3, 4, 2)], lambda a: a.sum(dim=1), False, None),
    "sum_keepdim": ([(3, 4, 2)], lambda a: a.sum(dim=(0, 2), keepdim=True), False, None),
    "mean_dim": ([(3, 4)], lambda a: a.mean(dim=0), False, None),
    "amax_all": ([(3, 4)], lambda a: a.amax(), False, None),
    "amax_dim": ([(3, 4)], lambda a: a.amax(dim=1, keepdim=True), False, None),
    "reshape": ([(3, 4)], lambda a: a.reshape(2, 6) * 2, False, None),
    "permute": ([(2, 3, 4)], lambda a: a.permute(2, 0, 1) * 1.5, False, None),
    "transpose": ([(2, 3, 4)], lambda a: a.transpose(0, 2) ** 2, False, None),
    "T": ([(3, 4)], lambda a: a.T * a.T, False, None),
    "slice": ([(4, 5)], lambda a: a[1:3, ::2] ** 2, False, None),
    "fancy_index_repeated": ([(4, 3)], lambda m, a: a[m.tensor([0, 2, 0, 0])] ** 2, True, None),
    "concat": ([(2, 3), (4, 3)], lambda m, a, b: m.cat([a, b], 0) ** 2, True, None),
    "stack": ([(2, 3), (2, 3)], lambda m, a, b: m.stack([a, b], 1) ** 2, True, None),
    "where": ([(3, 4), (3, 4)], lambda m, a, b: m.where(a > 0, a * b, b ** 2), True, None),
    "clamp": ([(3, 4)], lambda m, a: m.clamp(a, -0.5, 0.7) * a, True, None),
    "logsumexp": ([(3, 4)], lambda m, a: m.logsumexp(a, dim=1), True, None),
    "logsumexp_keepdim": ([(3, 4)], lambda m, a: m.logsumexp(a, dim=0, keepdim=True), True, None),
    "softmax": ([(3, 4)], lambda m, a: m.softmax(a, dim=-1), True, None),
    "log_softmax": ([(3, 4)], lambda m, a: m.log_softmax(a, dim=0), True, None),
    "embedding": ([(5, 3)], lambda m, w: m.nn.functional.embedding(m.tensor([[1, 4], [1, 1]]), w) ** 2, True, None),
    "cross_entropy": ([(6, 4)], lambda m, x: m.nn.functional.cross_entropy(x, m.tensor([0, 3, 1, 1, 2, 0])), True, None),
    "mse_loss": ([(3, 4), (3, 4)], lambda m, a, b: m.nn.functional.mse_loss(a, b), True, None),
    "bce_with_logits": ([(3, 4)], lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(
        x, (x.detach() > 0.2).to(x.dtype) * 0.7), True, None),
}


def causal_self_attention(lib, x, w_qkv):
    """nanoGPT's attention written with the Tensor surface only: one function for both libraries."""
    B, T, C = x.size()
    n_head = 2
    q, k, v = (x @ w_qkv).split(C, dim=2)
    q = q.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)
    k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
    v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))  # (B, nh, T, T)
    mask = lib.tril(lib.ones(T, T)).view(1, 1, T, T)
    att = att.masked_fill(mask[:, :, :T, :T] == 0, float("-inf"))
    att = lib.nn.functional.softmax(att, dim=-1)
    y = att @ v  # (B, nh, T, hs)
    return y.transpose(1, 2).contiguous().view(B, T, C)


def test_causal_self_attention_written_once_vs_torch():
    check([(2, 5, 4), (4, 12)], causal_self_attention, lib=True)


@pytest.mark.parametrize("name", OPS)
def test_op_forward_backward_double_backward_vs_torch(name, device):
    shapes, fn, lib, low = OPS[name]
    check(shapes, fn, lib=lib, low=low, device=device)


def broadcastable_pair():
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable_pair(), op=st.sampled_from(["add", "sub", "mul", "div"]), seed=st.integers(0, 2**16))
def test_broadcast_binary_ops_reduce_grads_to_input_shapes(shapes, op, seed):
    a_shape, b_shape = shapes.input_shapes
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    check([a_shape, b_shape], fn, dtypes=(np.float64,), seed=seed, low=0.5 if op == "div" else None)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(m,n),(n,p)->(m,p)", max_dims=2, max_side=4),
       seed=st.integers(0, 2**16))
def test_broadcast_batched_matmul_vs_torch(shapes, seed):
    check(list(shapes.input_shapes), lambda m, a, b: m.matmul(a, b), lib=True, dtypes=(np.float64,), seed=seed)


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
