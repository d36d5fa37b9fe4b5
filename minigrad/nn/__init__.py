"""Neural-network building blocks: Module, Parameter, layers, losses (``nn.functional``), init, utils."""
from minigrad.nn import functional, init, utils
from minigrad.nn.containers import ModuleDict, ModuleList
from minigrad.nn.layers import GELU, Dropout, Embedding, Linear, ReLU, Sigmoid, SiLU, Tanh
from minigrad.nn.module import Module, Parameter, Sequential
from minigrad.nn.normalization import LayerNorm, RMSNorm
from minigrad.nn.rnn import RNN, RNNCell
