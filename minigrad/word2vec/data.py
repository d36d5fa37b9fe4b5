"""The small real corpora and word-similarity sets that ship inside gensim's tests.

gensim (an optional test dependency) installs ``gensim/test/test_data/`` with
the Lee corpus (``lee_background.cor``, 300 news articles, ~58k tokens), the
WordSim-353 and SimLex-999 similarity judgements and Google's analogy
questions. We only *locate* those files through the installed package's path;
gensim itself is never imported, so minigrad does not depend on it.
"""
import importlib.util
import os
import re

_TOKEN = re.compile(r"(?:(?!\d)\w)+")  # runs of word characters that are not digits


def datapath(name):
    """Absolute path of ``name`` in gensim's test data; FileNotFoundError if gensim is absent."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"datapath({name!r}): the sample data ships with gensim's tests; "
            f"pip install gensim (minigrad's 'test' extra) to get it"
        )
    path = os.path.join(os.path.dirname(spec.origin), "test", "test_data", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"datapath({name!r}): {path} does not exist in this gensim installation")
    return path


def simple_tokenize(text, min_len=2, max_len=15):
    """Lower-cased tokens of ``min_len``..``max_len`` letters (underscores allowed, not first).

    The same rule as ``gensim.utils.simple_preprocess`` (checked on the Lee
    corpus in the tests), so both libraries train on identical sentences.
    """
    return [t for t in _TOKEN.findall(text.lower()) if min_len <= len(t) <= max_len and not t.startswith("_")]


def lee_corpus():
    """The Lee background corpus: one tokenised article (a list of str) per line."""
    with open(datapath("lee_background.cor"), encoding="utf8") as f:
        return [simple_tokenize(line) for line in f]
