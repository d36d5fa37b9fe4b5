"""``cupy.random`` of the stand-in: NumPy's generators, returning device arrays.

The streams are NumPy's, so the same seed gives the same numbers as on the
host, which CuPy does not promise (tests must not rely on it).
"""
import numpy as np

from fakecupy._array import unwrap, wrap


class Generator:
    """``cupy.random.Generator``: the methods minigrad uses, each returning device arrays."""

    def __init__(self, numpy_generator):
        self._numpy = numpy_generator

    def __getattr__(self, name):
        if name not in ("random", "integers", "standard_normal", "normal", "uniform", "permutation",
                        "choice", "exponential", "binomial"):
            raise AttributeError(f"fakecupy.random.Generator has no {name!r}")
        method = getattr(self._numpy, name)

        def call(*args, **kwargs):
            args = unwrap(args, f"Generator.{name}")
            kwargs = {k: unwrap(v, f"Generator.{name}") for k, v in kwargs.items()}
            return wrap(method(*args, **kwargs))
        return call


def default_rng(seed=None):
    return Generator(np.random.default_rng(seed))


_legacy = np.random.RandomState()


def seed(seed=None):
    _legacy.seed(seed)


def _legacy_function(name):
    def call(*args, **kwargs):
        return wrap(getattr(_legacy, name)(*unwrap(args, f"cupy.random.{name}"), **kwargs))
    call.__name__ = name
    return call


for _name in "rand randn random uniform normal randint choice permutation standard_normal".split():
    globals()[_name] = _legacy_function(_name)
del _name
