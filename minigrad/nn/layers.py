"""Layers with parameters (Linear, Embedding) and activation modules (LayerNorm lives in normalization.py).

Initialisation follows PyTorch so a reader can compare numbers: Linear draws
weight and bias from U(-1/√in, 1/√in) (what ``kaiming_uniform_(a=√5)`` reduces
to), Embedding from N(0, 1).
"""
import math

from minigrad import backend, config
from minigrad import functions as F
from minigrad.creation import check_sizes
from minigrad.nn.module import Module, Parameter


def _uniform(shape, bound, dtype, device):
    values = config.rng.uniform(-bound, bound, size=shape).astype(dtype or config.default_dtype)
    return Parameter(backend.to_device(values, device))


class Linear(Module):
    """y = x Wᵀ + b, weight stored (out_features, in_features)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, device="cpu"):
        super().__init__()
        check_sizes((out_features, in_features), "Linear")
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = _uniform((out_features, in_features), bound, dtype, device)
        self.bias = _uniform((out_features,), bound, dtype, device) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: row i is the vector of token i."""

    def __init__(self, num_embeddings, embedding_dim, dtype=None, device="cpu"):
        super().__init__()
        check_sizes((num_embeddings, embedding_dim), "Embedding")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        values = config.rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype or config.default_dtype)
        self.weight = Parameter(backend.to_device(values, device))

    def forward(self, indices):
        return F.embedding(self.weight, indices)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class SiLU(Module):
    def forward(self, x):
        return F.silu(x)


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)
