"""Neural-network building blocks: Module, Parameter, layers, losses (``nn.functional``), utils."""
from minigrad.nn import functional
from minigrad.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, Sigmoid, Tanh
from minigrad.nn.module import Module, Parameter, Sequential
from minigrad.nn.rnn import RNN, RNNCell

try:  # clip_grad_norm_ / clip_grad_value_ (written with the optimizers issue)
    from minigrad.nn import utils
except ImportError:  # pragma: no cover - until nn/utils.py lands
    pass
