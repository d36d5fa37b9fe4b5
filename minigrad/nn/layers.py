"""Layers with parameters (Linear, Embedding, LayerNorm) and activation modules.

Initialisation follows PyTorch so a reader can compare numbers: Linear draws
weight and bias from U(-1/√in, 1/√in) (what ``kaiming_uniform_(a=√5)`` reduces
to), Embedding from N(0, 1), LayerNorm starts at weight 1, bias 0.
"""
import math

from minigrad import backend, config
from minigrad import functions as F
from minigrad.nn.module import Module, Parameter


def _uniform(shape, bound, dtype, device):
    values = config.rng.uniform(-bound, bound, size=shape).astype(dtype or config.default_dtype)
    return Parameter(backend.to_device(values, device))


class Linear(Module):
    """y = x Wᵀ + b, weight stored (out_features, in_features)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, device="cpu"):
        super().__init__()
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
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        values = config.rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype or config.default_dtype)
        self.weight = Parameter(backend.to_device(values, device))

    def forward(self, indices):
        return F.embedding(self.weight, indices)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """(x - mean) / √(var + eps) · weight + bias over the last dimensions (Ba et al. 2016)."""

    def __init__(self, normalized_shape, eps=1e-5, dtype=None, device="cpu"):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        xp = backend.array_module(device)
        self.weight = Parameter(xp.ones(shape, dtype=dtype or config.default_dtype))
        self.bias = Parameter(xp.zeros(shape, dtype=dtype or config.default_dtype))

    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        centered = x - F.mean(x, axes, keepdims=True)
        var = F.mean(centered * centered, axes, keepdims=True)  # biased, as in the paper and PyTorch
        return centered / F.sqrt(var + self.eps) * self.weight + self.bias


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


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)
