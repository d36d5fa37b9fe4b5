"""The engine itself: Hessians, higher-order grads, graph freeing, no_grad, errors."""
import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn.functional as F


def logistic_problem(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    w = rng.standard_normal(d) * 0.3
    return X, y, w


@pytest.mark.parametrize("at_zero", [False, True], ids=["random_w", "w_zero"])
def test_hessian_of_logistic_loss_matches_torch_and_closed_form(at_zero):
    X, y, w0 = logistic_problem()
    if at_zero:  # every logit is exactly 0: the kink of |x| must not leak into the derivatives
        w0 = np.zeros_like(w0)
    Xm, ym = mg.tensor(X), mg.tensor(y)

    def loss(w):
        return F.binary_cross_entropy_with_logits(Xm @ w, ym)

    H = mg.autograd.functional.hessian(loss, mg.tensor(w0)).numpy()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    H_torch = torch.autograd.functional.hessian(
        lambda w: torch.nn.functional.binary_cross_entropy_with_logits(Xt @ w, yt), torch.tensor(w0)
    ).numpy()
    p = 1 / (1 + np.exp(-X @ w0))
    H_closed = X.T @ np.diag(p * (1 - p)) @ X / len(y)
    np.testing.assert_allclose(H, H_torch, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(H, H_closed, rtol=1e-10, atol=1e-13)


def test_hessian_of_several_inputs_has_torch_block_layout():
    rng = np.random.default_rng(1)
    a0, b0 = rng.standard_normal(3), rng.standard_normal((2, 2))

    def f(a, b):
        return (a.tanh() * (b @ b).sum()).sum() + (a ** 3).sum()

    H = mg.autograd.functional.hessian(f, [mg.tensor(a0), mg.tensor(b0)])
    Ht = torch.autograd.functional.hessian(
        lambda a, b: (a.tanh() * (b @ b).sum()).sum() + (a ** 3).sum(), (torch.tensor(a0), torch.tensor(b0))
    )
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), Ht[i][j].numpy(), rtol=1e-10, atol=1e-12)


def test_third_derivative_of_tanh_matches_closed_form():
    x = mg.tensor(0.7, dtype=np.float64, requires_grad=True)
    (g1,) = mg.autograd.grad(mg.tanh(x), [x], create_graph=True)
    (g2,) = mg.autograd.grad(g1, [x], create_graph=True)
    (g3,) = mg.autograd.grad(g2, [x])
    t = np.tanh(0.7)
    np.testing.assert_allclose(g3.item(), -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12)


def test_autograd_grad_leaves_dot_grad_untouched():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.autograd.grad((x * x).sum(), [x])
    assert x.grad is None
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_grad_of_intermediate_tensor():
    x = mg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    h = x * 3
    (gh,) = mg.autograd.grad((h * h).sum(), [h])
    np.testing.assert_array_equal(gh.numpy(), 2 * h.numpy())


def test_second_backward_without_retain_graph_raises():
    x = mg.tensor([1.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = mg.tensor([1.5], dtype=np.float64, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 2 * 2 * 1.5


def test_no_grad_records_nothing():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad


def test_backward_of_non_scalar_without_grad_names_the_shape():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2,\)"):
        (x * 2).backward()


def test_matmul_shape_mismatch_names_op_and_both_shapes():
    a, b = mg.zeros(2, 3), mg.zeros(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        a @ b


def test_cross_entropy_target_out_of_range_is_a_clear_error():
    with pytest.raises(IndexError, match="target 7 is out of range for 3 classes"):
        F.cross_entropy(mg.zeros(2, 3), np.array([0, 7]))


def test_cross_entropy_is_finite_for_logits_of_1e4_and_matches_torch():
    logits = np.array([[1e4, -1e4, 0.0], [3.0, 1e4, 1e4 - 1]])
    target = np.array([1, 2])
    x = mg.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    loss, loss_t = F.cross_entropy(x, target), torch.nn.functional.cross_entropy(xt, torch.tensor(target))
    loss.backward()
    loss_t.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_ignore_index_and_spatial_dims_match_torch(reduction):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 4, 3))  # (N, C, d1) as in PyTorch
    target = np.array([[0, 3, -100], [2, -100, 1]])
    x = mg.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target, reduction=reduction)
    loss_t = torch.nn.functional.cross_entropy(xt, torch.tensor(target), reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), loss_t.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(loss.shape)
    loss.backward(mg.tensor(g))
    loss_t.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.cuda
def test_mixing_devices_names_op_and_devices():
    pytest.importorskip("cupy")
    from minigrad import backend

    if not backend.cupy_available():
        pytest.skip("no CUDA device")
    with pytest.raises(RuntimeError, match="Add: expected all tensors on one device, got cpu, cuda"):
        mg.ones(2) + mg.ones(2, device="cuda")


def test_gradcheck_accepts_correct_and_rejects_wrong_gradient():
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert mg.gradcheck(lambda a: mg.log_softmax(a, axis=1) * a.tanh(), [x])

    class WrongSquare(mg.Function):
        def forward(self, a):
            return a * a

        def backward(self, gy, a):
            return gy * a  # should be 2a

    with pytest.raises(AssertionError, match="gradcheck"):
        mg.gradcheck(lambda a: WrongSquare()(a), [x])


def test_tensor_keeps_numpy_dtype_and_python_floats_get_default(float64):
    assert mg.tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert mg.tensor([1.0, 2.0]).dtype == np.float64
    mg.set_default_dtype(np.float32)
    assert mg.tensor([1.0]).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
