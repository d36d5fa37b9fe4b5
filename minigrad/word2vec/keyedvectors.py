"""``KeyedVectors``: word -> vector lookup, cosine similarity, nearest words, word-pair evaluation.

Mirrors the part of ``gensim.models.KeyedVectors`` people use most, with the
same names, arguments and return shapes, so the two can be compared line by line.
"""
from collections import namedtuple

import numpy as np

from minigrad import backend
from minigrad.serialization import load as _load, save as _save

CorrelationResult = namedtuple("CorrelationResult", ["statistic", "pvalue"])


class KeyedVectors:
    """Vectors (V, d) indexed by words; ``vectors`` may live on the GPU (CuPy)."""

    def __init__(self, vector_size, index_to_key=(), vectors=None, counts=None):
        self.vector_size = vector_size
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = np.zeros((len(self.index_to_key), vector_size), np.float32) if vectors is None else vectors
        self.counts = None if counts is None else np.asarray(counts)
        if tuple(self.vectors.shape) != (len(self.index_to_key), vector_size):
            raise ValueError(
                f"KeyedVectors: vectors of shape {tuple(self.vectors.shape)} do not fit "
                f"{len(self.index_to_key)} keys of size {vector_size}"
            )

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def get_index(self, key):
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"Key '{key}' not present in vocabulary ({len(self)} words)") from None

    def get_vector(self, key, norm=False):
        """The vector of ``key`` as a host NumPy array (unit length with ``norm=True``)."""
        v = backend.to_numpy(self.vectors[self.get_index(key)])
        return v / _safe_norm(v) if norm else v

    def __getitem__(self, key_or_keys):
        """``wv['king']`` -> (d,) array; ``wv[['king', 'queen']]`` -> (2, d); KeyError names a missing word."""
        if isinstance(key_or_keys, str):
            return self.get_vector(key_or_keys)
        return np.stack([self.get_vector(k) for k in key_or_keys])

    def get_normed_vectors(self):
        """All vectors scaled to unit L2 length (a zero vector stays zero), on the vectors' device."""
        xp = backend.get_array_module(self.vectors)
        norms = xp.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / xp.where(norms == 0, 1, norms)

    def similarity(self, w1, w2):
        """Cosine similarity u·v / (|u| |v|) of two words."""
        a, b = self.get_vector(w1, norm=True), self.get_vector(w2, norm=True)
        return float(np.dot(a, b))

    def most_similar(self, positive=None, negative=None, topn=10):
        """The ``topn`` words closest in cosine to mean(unit vectors of positive, minus those of negative).

        ``positive``/``negative``: a word or a list of words (gensim's analogy
        form: ``most_similar(positive=['king', 'woman'], negative=['man'])``).
        The query words themselves are left out. Returns [(word, cosine), ...].
        """
        positive = [positive] if isinstance(positive, str) else list(positive or [])
        negative = [negative] if isinstance(negative, str) else list(negative or [])
        if not positive and not negative:
            raise ValueError("most_similar: give at least one positive or negative word")
        terms = [self.get_vector(w, norm=True) for w in positive]
        terms += [-self.get_vector(w, norm=True) for w in negative]
        query = np.mean(terms, axis=0)
        query = query / _safe_norm(query)
        xp = backend.get_array_module(self.vectors)
        cosines = backend.to_numpy(self.get_normed_vectors() @ xp.asarray(query.astype(self.vectors.dtype)))
        cosines[[self.get_index(w) for w in positive + negative]] = -np.inf
        k = min(topn, len(self) - len(set(positive + negative)))
        if k <= 0:
            return []
        best = np.argpartition(-cosines, k - 1)[:k]
        best = best[np.argsort(-cosines[best], kind="stable")]
        return [(self.index_to_key[i], float(cosines[i])) for i in best]

    def evaluate_word_pairs(self, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000,
                            case_insensitive=True, dummy4unknown=False):
        """Correlation of model cosines with human similarity scores, gensim's file format and result.

        ``pairs``: a file of ``word1<delimiter>word2<delimiter>score`` lines;
        lines starting with '#' are comments. Only the ``restrict_vocab`` most
        frequent words count as known; with ``case_insensitive`` the first
        (most frequent) case variant of a word is used. Pairs with an unknown
        word are skipped (or scored 0 with ``dummy4unknown``).

        Returns ``(pearson, spearman, oov_ratio)``: two (statistic, pvalue)
        pairs and the percentage of pairs with an unknown word. Spearman's rho
        is Pearson's r of the ranks (ties get their average rank). The
        p-values (t-test, as scipy) need scipy; without it they are nan.
        """
        known = {}
        for i, key in enumerate(self.index_to_key[:restrict_vocab]):
            known.setdefault(key.upper() if case_insensitive else key, i)
        gold, model, oov = [], [], 0
        with open(pairs, encoding=encoding) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                fields = [x.strip() for x in line.split(delimiter)]
                try:
                    a, b, score = fields
                    score = float(score)
                except ValueError:  # not three fields, or a score that is not a number: skipped like gensim
                    continue
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                if a not in known or b not in known:
                    oov += 1
                    if dummy4unknown:
                        gold.append(score)
                        model.append(0.0)
                    continue
                gold.append(score)
                model.append(self._cosine_by_index(known[a], known[b]))
        if not gold:
            raise ValueError(
                f"evaluate_word_pairs: no usable pair in {pairs} (all out of vocabulary or malformed)"
            )
        oov_ratio = oov / (len(gold) if dummy4unknown else len(gold) + oov) * 100
        gold, model = np.asarray(gold), np.asarray(model)
        pearson = _correlation(gold, model)
        spearman = _correlation(_average_ranks(gold), _average_ranks(model))
        return pearson, spearman, oov_ratio

    def _cosine_by_index(self, i, j):
        a, b = backend.to_numpy(self.vectors[i]), backend.to_numpy(self.vectors[j])
        return float(np.dot(a, b) / (_safe_norm(a) * _safe_norm(b)))

    def save(self, path):
        _save({"index_to_key": self.index_to_key, "vectors": self.vectors,
               "counts": self.counts if self.counts is not None else np.zeros(0, np.int64)}, path)

    @classmethod
    def load(cls, path):
        state = _load(path)  # arrays come back as CPU Tensors
        vectors, counts = state["vectors"].numpy(), state["counts"].numpy()
        return cls(vectors.shape[1], state["index_to_key"], vectors, counts if len(counts) else None)


def _safe_norm(v):
    n = float(np.linalg.norm(v))
    return n if n > 0 else 1.0


def _average_ranks(x):
    """Ranks 1..n, tied values sharing the mean of their ranks (what Spearman's rho uses)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    values, group = np.unique(x, return_inverse=True)
    return (np.bincount(group, weights=ranks) / np.bincount(group))[group]


def _correlation(x, y):
    """Pearson's r with its two-sided t-test p-value (p needs scipy; nan without it)."""
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx @ dx) * (dy @ dy))
    r = float(dx @ dy / denom) if denom > 0 else float("nan")
    return CorrelationResult(r, _pvalue(r, len(x)))


def _pvalue(r, n):
    try:
        from scipy.stats import t as student_t
    except ImportError:
        return float("nan")
    if n < 3 or not np.isfinite(r):
        return float("nan")
    if abs(r) >= 1.0:
        return 0.0
    t = r * np.sqrt((n - 2) / (1.0 - r * r))
    return float(2 * student_t.sf(abs(t), n - 2))
