"""nn building blocks against PyTorch: same weights in, same numbers out."""
import os

import numpy as np
import pytest
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


def copy_torch_weights(ours, theirs):
    """Load a torch module's weights by name: proves the two layouts agree."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_linear_state_dict_matches_torch_layout_and_order(float64):
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_mlp_trained_50_sgd_steps_follows_torch_loss_curve(float64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 10))
    y = X[:, :3].argmax(axis=1)  # a learnable rule, so the curve really descends
    torch.manual_seed(0)  # the shared starting weights come from torch's initialiser
    ours = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    copy_torch_weights(ours, theirs)
    lr, curve, curve_t = 0.1, [], []
    for _ in range(50):
        loss = F.cross_entropy(ours(mg.tensor(X)), y)
        ours.zero_grad()
        loss.backward()
        with mg.no_grad():
            for p in ours.parameters():
                p.data -= lr * p.grad.data
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(X)), torch.tensor(y))
        theirs.zero_grad()
        loss_t.backward()
        with torch.no_grad():
            for p in theirs.parameters():
                p -= lr * p.grad
        curve.append(loss.item())
        curve_t.append(loss_t.item())
    np.testing.assert_allclose(curve, curve_t, rtol=1e-8)
    assert curve[-1] < 0.5 * curve[0]


def test_rnn_forward_and_bptt_match_torch(float64):
    ours, theirs = nn.RNN(3, 5), torch.nn.RNN(3, 5).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal((7, 2, 3))
    out, h = ours(mg.tensor(x))
    out_t, h_t = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    (out * out).sum().backward()
    (out_t * out_t).sum().backward()
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


def test_rnn_inside_a_model_keeps_torch_parameter_names(float64):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4)
            self.head = nn.Linear(4, 2)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(3, 4)
            self.head = torch.nn.Linear(4, 2)

    assert list(Net().state_dict()) == list(TorchNet().state_dict())


def test_rnn_cell_matches_torch(float64):
    ours, theirs = nn.RNNCell(3, 4), torch.nn.RNNCell(3, 4).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(5).standard_normal((2, 3))
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_rnn_batch_first_matches_torch(float64):
    ours, theirs = nn.RNN(2, 4, batch_first=True), torch.nn.RNN(2, 4, batch_first=True).double()
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(2).standard_normal((3, 5, 2))
    h0 = np.random.default_rng(3).standard_normal((1, 3, 4))
    out, _ = ours(mg.tensor(x), mg.tensor(h0))
    out_t, _ = theirs(torch.tensor(x), torch.tensor(h0))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_layernorm_matches_torch(float64):
    ours, theirs = nn.LayerNorm(6), torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(4).standard_normal((3, 6)) * 5
    y, y_t = ours(mg.tensor(x, requires_grad=True)), theirs(torch.tensor(x, requires_grad=True))
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y ** 3).sum().backward()
    (y_t ** 3).sum().backward()
    for p, p_t in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), p_t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_repeated_indices_accumulate_like_torch(float64):
    ours, theirs = nn.Embedding(6, 3), torch.nn.Embedding(6, 3).double()
    copy_torch_weights(ours, theirs)
    idx = np.array([[1, 1, 4], [1, 0, 4]])
    (ours(idx) ** 2).sum().backward()
    (theirs(torch.tensor(idx)) ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_embedding_index_out_of_range_is_a_clear_error():
    with pytest.raises(IndexError, match=r"embedding: index out of range \[0, 4\)"):
        nn.Embedding(4, 2)(np.array([1, 4]))


def test_dropout_keeps_expectation_and_is_identity_in_eval():
    mg.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = mg.ones(200_000)
    kept = layer(x).numpy()
    assert set(np.unique(kept)) <= {0.0, np.float32(1 / 0.75)}
    assert abs(kept.mean() - 1.0) < 0.01  # 3 standard errors of the mean are ~0.005
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


def test_save_load_roundtrip_of_model_and_nested_state(tmp_path, float64):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    path = tmp_path / "ckpt.npz"
    state = {"model": model.state_dict(), "step": 7, "history": [0.5, 0.25], "name": "run-1", "extra": None}
    mg.save(state, path)
    loaded = mg.load(path)
    assert loaded["step"] == 7 and loaded["history"] == [0.5, 0.25] and loaded["name"] == "run-1"
    assert loaded["extra"] is None
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    fresh.load_state_dict(loaded["model"])
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []  # nothing half-written left


def test_load_refuses_pickled_npz(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        mg.load(path)


def test_load_state_dict_shape_mismatch_names_the_key():
    with pytest.raises(ValueError, match=r"weight has shape \(2, 2\).*\(4, 3\)"):
        nn.Linear(3, 4).load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(4)})


def test_zero_grad_and_train_eval_flags_reach_children():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model(mg.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    assert not model[1].training
