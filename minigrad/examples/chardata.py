"""Character-level text data for the GPT demo: a vocabulary, a train/validation split, random windows.

    data = CharData.from_file(path)            # or CharData.default(): gensim's Lee corpus
    x, y = data.batch("train", batch_size=16, block_size=64, rng=np.random.default_rng(0))
    data.decode(x[0])                          # back to text

Each character of the file is one token; the vocabulary is the sorted set of
characters. The last 10% of the text is held out for validation (the file is
split, not shuffled, so no window crosses from train into validation). A batch
is ``batch_size`` windows starting at uniformly random offsets, with targets
shifted one character to the right: y[b, t] = x[b, t + 1].

The default text is ``lee_background.cor`` (about 360 KB of Australian news),
which ships inside gensim's test data, so the demo downloads nothing.
"""
import os

import numpy as np

VAL_FRACTION = 0.1


def default_text_path():
    """Path of gensim's ``lee_background.cor``; a clear error if gensim is missing."""
    try:
        from gensim.test.utils import datapath
    except ImportError as error:
        raise SystemExit("train_gpt: the default text comes with gensim (pip install gensim); "
                         "or pass --data FILE with any UTF-8 text file") from error
    return datapath("lee_background.cor")


class CharData:
    """A text encoded as int64 character ids, split into train (first 90%) and val (last 10%)."""

    def __init__(self, text, name="text"):
        if len(text) < 100:
            raise ValueError(f"CharData: {name} holds {len(text)} characters; need at least 100")
        self.name = name
        self.chars = sorted(set(text))
        self.vocab_size = len(self.chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        ids = np.array([self.stoi[ch] for ch in text], dtype=np.int64)  # (N,)
        n_train = int(len(ids) * (1 - VAL_FRACTION))
        self.splits = {"train": ids[:n_train], "val": ids[n_train:]}

    @classmethod
    def from_file(cls, path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CharData: no text file at {path}")
        with open(path, encoding="utf-8") as f:
            return cls(f.read(), name=os.path.basename(path))

    @classmethod
    def default(cls):
        return cls.from_file(default_text_path())

    def encode(self, text):
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"CharData.encode: characters {unknown} are not in the vocabulary of {self.name}")
        return np.array([self.stoi[ch] for ch in text], dtype=np.int64)

    def decode(self, ids):
        return "".join(self.chars[i] for i in np.asarray(ids).ravel())

    def batch(self, split, batch_size, block_size, rng):
        """(x, y), each (batch_size, block_size) int64: random windows of ``split`` and the next characters."""
        ids = self.splits[split]
        if len(ids) <= block_size:
            raise ValueError(f"CharData.batch: the {split} split has {len(ids)} characters, "
                             f"too few for windows of block_size={block_size}")
        starts = rng.integers(0, len(ids) - block_size, size=batch_size)  # (B,)
        window = starts[:, None] + np.arange(block_size)  # (B, T) positions
        return ids[window], ids[window + 1]  # (B, T), (B, T)
