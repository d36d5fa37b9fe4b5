"""Bad input gets an error that names the op and the offending shapes, never a bare NumPy message.

Each case raised a raw NumPy (or Python) error naming no op before ``Function.__call__`` learned
to re-raise forward errors with the op's name and its inputs' shapes and dtypes.
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn


def t(*shape):
    return mg.tensor(np.ones(shape))


CASES = {
    "add broadcast": (lambda: t(2, 3) + t(4), ValueError, r"^add: .*\(2, 3\).*\(4,\)"),
    "sub broadcast": (lambda: t(2, 3) - t(3, 2), ValueError, r"^sub: .*\(2, 3\).*\(3, 2\)"),
    "mul broadcast": (lambda: t(5) * t(4), ValueError, r"^mul: .*\(5,\).*\(4,\)"),
    "div broadcast": (lambda: t(2, 2) / t(3), ValueError, r"^div: .*\(2, 2\).*\(3,\)"),
    "where broadcast": (lambda: mg.where(np.ones(3) > 0, t(2, 2), 0.0), ValueError, r"^where: .*\(3,\).*\(2, 2\)"),
    "sum axis": (lambda: mg.sum(t(2, 3), 5), IndexError, r"^sum: .*dim 5.*\(2, 3\)"),
    "max axis": (lambda: mg.max(t(2, 3), 3), IndexError, r"^max: .*dim 3.*\(2, 3\)"),
    "softmax axis": (lambda: mg.softmax(t(2, 3), 4), IndexError, r"^softmax: .*dim 4.*\(2, 3\)"),
    "log_softmax axis": (lambda: mg.log_softmax(t(2, 3), -3), IndexError, r"^log_softmax: .*dim -3.*\(2, 3\)"),
    "concat axis": (lambda: mg.concat([t(2, 3), t(2, 3)], 2), IndexError, r"^concat: .*dim 2.*\(2, 3\)"),
    "transpose dims": (lambda: mg.transpose(t(2, 3), 0, 2), IndexError, r"^transpose: .*dim 2.*\(2, 3\)"),
    "permute dims": (lambda: mg.permute(t(2, 3), (0, 2)), IndexError, r"^permute: .*dim 2.*\(2, 3\)"),
    "reshape -1 twice": (lambda: t(2, 3).reshape(-1, -1), ValueError, r"^reshape: shape \[-1, -1\] .*\(2, 3\)"),
    "reshape size": (lambda: t(2, 3).reshape(4, 2), ValueError, r"^reshape: shape \[4, 2\] .*\(2, 3\)"),
    "reshape -2": (lambda: t(6).reshape(-2, 3), RuntimeError, r"^reshape: shape \[-2, 3\]"),
    "view -1 no fit": (lambda: t(6).view(4, -1), RuntimeError, r"^reshape: shape \[4, -1\]"),
    "layer_norm shape": (lambda: nn.LayerNorm(3)(t(2, 4)), RuntimeError, r"^layer_norm: .*\[3\].*\[2, 4\]"),
    "ragged data": (lambda: mg.tensor([[1, 2], [3]]), ValueError, r"^tensor: "),
    "negative size": (lambda: mg.zeros(-2), RuntimeError, r"^zeros: .*negative dimension -2"),
    "negative Linear": (lambda: nn.Linear(-1, 3), RuntimeError, r"^Linear: .*negative dimension -1"),
    "negative Embedding": (lambda: nn.Embedding(4, -3), RuntimeError, r"^Embedding: .*negative dimension -3"),
    "arange step 0": (lambda: mg.arange(0, 5, 0), RuntimeError, r"^arange: step"),
    "full of a string": (lambda: mg.full((2,), "x"), TypeError, r"^full: "),
    "Dropout p": (lambda: nn.Dropout(1.5), ValueError, r"^Dropout: .*1.5"),
    "stack empty": (lambda: mg.stack([]), ValueError, r"^stack: "),
    "concat empty": (lambda: mg.concat([]), ValueError, r"^concat: "),
    "index out of range": (lambda: t(2, 3)[5], IndexError, r"^getitem: .*index 5.*\(2, 3\)"),
    "matmul shapes": (lambda: t(2, 3) @ t(2, 3), ValueError, r"^matmul: .*\(2, 3\) and \(2, 3\)"),
    "embedding range": (lambda: nn.Embedding(5, 3)([1, 7]), IndexError, r"^embedding: .*max 7"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_error_names_the_op_and_shapes(name):
    fn, kind, pattern = CASES[name]
    with pytest.raises(kind, match=pattern):
        fn()


def test_shape_errors_are_also_runtime_errors_as_in_torch():
    """torch raises RuntimeError for shapes that do not broadcast; NumPy raises ValueError. Both catch it."""
    with pytest.raises(RuntimeError, match="^add:"):
        t(2, 3) + t(4)


def test_embedding_accepts_a_python_list_of_ids_as_torch_does():
    emb = nn.Embedding(5, 3)
    np.testing.assert_array_equal(emb([1, 2]).numpy(), emb.weight.numpy()[[1, 2]])


def test_truncated_checkpoint_names_the_path(tmp_path):
    path = tmp_path / "model.npz"
    mg.save({"w": mg.tensor(np.arange(1000.0))}, path)
    data = path.read_bytes()
    for i, broken in enumerate([data[: len(data) // 2], data[:100] + b"x" * 50 + data[150:], b""]):
        bad = tmp_path / f"broken{i}.npz"
        bad.write_bytes(broken)
        with pytest.raises(ValueError, match=f"load: {bad}.* truncated or corrupted"):
            mg.load(bad)


def test_missing_checkpoint_keeps_file_not_found():
    with pytest.raises(FileNotFoundError):
        mg.load("/nonexistent/dir/model.npz")


@pytest.mark.parametrize("make", [
    lambda lib: lib.zeros(6).reshape(-2, 3),
    lambda lib: lib.zeros(0, 3).reshape(0, -1),
    lambda lib: lib.nn.Dropout(1.5),
    lambda lib: lib.zeros(-2),
    lambda lib: lib.arange(0, 5, 0),
], ids=["reshape -2", "reshape 0,-1", "Dropout 1.5", "zeros -2", "arange step 0"])
def test_inputs_torch_refuses_are_refused(make):
    """Each once gave a silent answer (NumPy reads any negative size as 'infer'; Dropout took
    p = 1.5) or a bare NumPy error; PyTorch refuses all of them."""
    import torch
    with pytest.raises(Exception):
        make(torch)
    with pytest.raises((ValueError, RuntimeError)):
        make(mg)
