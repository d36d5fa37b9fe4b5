"""Elman recurrent networks with tanh, PyTorch's layout, names and initialisation.

h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), every weight drawn from
U(-1/√hidden, 1/√hidden). Backpropagation through time is nothing special:
the loop below builds one graph over all steps and ``backward`` walks it.
"""
import math

from minigrad import functions as F
from minigrad.creation import zeros
from minigrad.nn.layers import _uniform
from minigrad.nn.module import Module


def rnn_step(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One tanh step."""
    return F.tanh(F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh))


def _zero_state(batch_shape, hidden_size, like):
    """The initial state torch uses when none is given: zeros, so W_hh still gets a (zero) gradient, not None."""
    return zeros(*batch_shape, hidden_size, dtype=like.dtype, device=like.device)


def _init_weights(module, suffix, input_size, hidden_size, bias, dtype, device):
    k = 1 / math.sqrt(hidden_size)
    setattr(module, "weight_ih" + suffix, _uniform((hidden_size, input_size), k, dtype, device))
    setattr(module, "weight_hh" + suffix, _uniform((hidden_size, hidden_size), k, dtype, device))
    setattr(module, "bias_ih" + suffix, _uniform((hidden_size,), k, dtype, device) if bias else None)
    setattr(module, "bias_hh" + suffix, _uniform((hidden_size,), k, dtype, device) if bias else None)


class RNNCell(Module):
    def __init__(self, input_size, hidden_size, bias=True, dtype=None, device="cpu"):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        _init_weights(self, "", input_size, hidden_size, bias, dtype, device)

    def forward(self, x, h=None):
        h = _zero_state(x.shape[:-1], self.hidden_size, x) if h is None else h
        return rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class RNN(Module):
    """One tanh layer over a sequence (seq_len, batch, input), or (batch, seq_len, input) with batch_first.

    Returns (output of every step, last hidden state with a leading layer axis of 1).
    Parameters are named weight_ih_l0, ... as in PyTorch, so state dicts copy across.
    """

    def __init__(self, input_size, hidden_size, bias=True, batch_first=False, dtype=None, device="cpu"):
        super().__init__()
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        _init_weights(self, "_l0", input_size, hidden_size, bias, dtype, device)

    def forward(self, x, h0=None):
        if self.batch_first:
            x = F.transpose(x, 0, 1)
        h = _zero_state(x.shape[1:-1], self.hidden_size, x) if h0 is None else F.reshape(h0, h0.shape[1:])
        outputs = []
        for t in range(x.shape[0]):
            h = rnn_step(x[t], h, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
            outputs.append(h)
        out = F.stack(outputs, axis=0)
        if self.batch_first:
            out = F.transpose(out, 0, 1)
        return out, F.reshape(h, (1,) + h.shape)
