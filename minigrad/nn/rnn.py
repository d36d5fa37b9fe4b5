"""Elman recurrent networks with tanh, PyTorch's layout and initialisation.

h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), every weight drawn from
U(-1/√hidden, 1/√hidden). Backpropagation through time is nothing special:
the loop below builds one graph over all steps and ``backward`` walks it.
"""
import math

from minigrad import backend
from minigrad import functions as F
from minigrad.nn.layers import _uniform
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class RNNCell(Module):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None, device="cpu"):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1 / math.sqrt(hidden_size)
        self.weight_ih = _uniform((hidden_size, input_size), k, dtype, device)
        self.weight_hh = _uniform((hidden_size, hidden_size), k, dtype, device)
        self.bias_ih = _uniform((hidden_size,), k, dtype, device) if bias else None
        self.bias_hh = _uniform((hidden_size,), k, dtype, device) if bias else None

    def forward(self, x, h=None):
        if h is None:
            xp = backend.get_array_module(x.data)
            h = Tensor(xp.zeros(x.shape[:-1] + (self.hidden_size,), dtype=self.weight_ih.dtype))
        return F.tanh(F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))


class RNN(Module):
    """One tanh layer over a sequence (seq_len, batch, input), or (batch, seq_len, input) with batch_first.

    Returns (output of every step, last hidden state with a leading layer axis of 1).
    """

    def __init__(self, input_size, hidden_size, bias=True, batch_first=False, dtype=None, device="cpu"):
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size, bias, dtype, device)
        self.batch_first = batch_first

    def named_parameters(self, prefix=""):
        # PyTorch names these weight_ih_l0, ...: keep those names so state dicts match.
        for name, p in self.cell.named_parameters():
            yield (f"{prefix}.{name}_l0" if prefix else f"{name}_l0"), p

    def forward(self, x, h0=None):
        if self.batch_first:
            x = F.transpose(x, (1, 0, 2))
        h = None if h0 is None else F.reshape(h0, h0.shape[1:])
        outputs = []
        for t in range(x.shape[0]):
            h = self.cell(x[t], h)
            outputs.append(h)
        out = F.stack(outputs, axis=0)
        if self.batch_first:
            out = F.transpose(out, (1, 0, 2))
        return out, F.reshape(h, (1,) + h.shape)
