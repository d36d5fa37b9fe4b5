"""Neural-network building blocks: Module, Parameter, layers, losses (``nn.functional``), utils."""
from minigrad.nn import functional, utils
from minigrad.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, Sigmoid, Tanh
from minigrad.nn.module import Module, Parameter, Sequential
from minigrad.nn.rnn import RNN, RNNCell
