"""``Word2Vec``: skip-gram with negative sampling, gensim's names and defaults, trained with minigrad.

One training step (``_train_batch``):

1. gather the rows a mini-batch touches into two small leaf Tensors
   (``requires_grad=True``): the center vectors V_b and the candidate output
   vectors U_b of every score block (``batches.py``);
2. ``sgns_loss(V_b, U_b, P, N)`` with minigrad ops, then ``loss.backward()``;
3. scatter ``-lr · grad`` back into the full matrices, repeated rows adding up
   (``sgns.sparse_sgd_step``).

The update is row-sparse: a step costs O(rows touched · d), never a dense
V × d gradient. The alternative, ``mg.embedding`` on the full weight, would
make backward allocate a dense V × d gradient every step (its scatter-add
writes into ``zeros(V, d)``), which for V = 10^5 is 40 MB per step.

Differences from gensim, on purpose: gensim updates after every (center,
context) pair from several threads without locks (Hogwild, Recht et al. 2011);
here a whole mini-batch of ``batch_words`` centers is evaluated at the same
weights, then applied at once, so the GPU and NumPy see large array ops. Large
batches make frequent words take many stale steps at once; ``batch_words`` is
the knob (see ``benchmarks/bench_word2vec.py`` for the quality / speed table).
The learning rate decays linearly from ``alpha`` to ``min_alpha`` over all
epochs, per mini-batch, as gensim does per job.
"""
import time

import numpy as np

from minigrad import backend, config
from minigrad.serialization import load as _load, save as _save
from minigrad.word2vec.batches import iter_blocks, subsample
from minigrad.word2vec.keyedvectors import KeyedVectors
from minigrad.word2vec.sgns import MAX_SCORE, gather, sgns_loss, sparse_sgd_step
from minigrad.word2vec.vocab import NoiseSampler, Vocab, keep_probabilities


class Word2Vec:
    """Skip-gram negative-sampling word vectors: ``Word2Vec(sentences, vector_size=100, ...)``.

    ``sentences``: a list (or re-iterable) of token lists. Given, the vocabulary
    is built and the model trained at once, like gensim. ``model.wv`` holds the
    input vectors (``KeyedVectors``); ``model.syn1neg`` the output vectors.

    ``batch_words`` is the number of centers per update (gensim: words per
    worker job). Beyond gensim's arguments: ``block_words`` consecutive centers
    share one window slab and one pool of ``pool_size`` negatives
    (``batches.py``); the defaults (1024, 32, 16) were picked with
    ``benchmarks/bench_word2vec.py --sweep``. ``device="cuda"`` trains through
    CuPy; ``progress=True`` shows a tqdm bar when tqdm is installed.
    ``compute_loss=True`` records the summed loss of every epoch in
    ``loss_history`` (it costs a device-to-host copy per mini-batch).
    """

    def __init__(self, sentences=None, vector_size=100, window=5, negative=5, min_count=5,
                 sample=1e-3, alpha=0.025, min_alpha=1e-4, epochs=5, seed=1, batch_words=1024,
                 ns_exponent=0.75, shrink_windows=True, block_words=32, pool_size=16,
                 compute_loss=False, dtype=np.float32, device="cpu", progress=False):
        for name, value, low in (("vector_size", vector_size, 1), ("window", window, 1),
                                 ("negative", negative, 1), ("min_count", min_count, 1),
                                 ("epochs", epochs, 1), ("batch_words", batch_words, 1),
                                 ("block_words", block_words, 1), ("pool_size", pool_size, 1)):
            if int(value) != value or value < low:
                raise ValueError(f"Word2Vec: {name} must be an integer >= {low}, got {value!r}")
        if np.dtype(dtype).kind != "f":
            raise ValueError(f"Word2Vec: dtype must be a floating type, got {np.dtype(dtype)}")
        if not 0 <= min_alpha <= alpha:
            raise ValueError(f"Word2Vec: need 0 <= min_alpha <= alpha, got alpha={alpha}, min_alpha={min_alpha}")
        self.vector_size, self.window, self.negative = vector_size, window, negative
        self.min_count, self.sample, self.epochs, self.seed = min_count, sample, epochs, seed
        self.alpha, self.min_alpha, self.batch_words = alpha, min_alpha, batch_words
        self.ns_exponent, self.shrink_windows = ns_exponent, shrink_windows
        self.block_words, self.pool_size = block_words, pool_size
        self.dtype, self.device, self.progress = np.dtype(dtype), backend.check_device(device), progress
        self.compute_loss, self.running_training_loss, self.loss_history = compute_loss, 0.0, []
        # one stream for subsampling, windows and negatives, continued across train() calls
        self._rng = backend.array_module(self.device).random.default_rng(seed + 1)
        self.wv = KeyedVectors(vector_size)
        self.syn1neg = None
        self.vocab = None
        self.train_seconds = 0.0
        if sentences is not None:
            sentences = list(sentences)
            self.build_vocab(sentences)
            self.train(sentences, epochs=epochs)

    # ---- vocabulary and initial weights -------------------------------------------------
    def build_vocab(self, sentences):
        """Count words, keep those with count >= min_count, initialise both embedding matrices.

        Input vectors: uniform in [-0.5/d, 0.5/d) (gensim's and the C tool's
        init); output vectors: zero. Seeded by ``seed``.
        """
        self.vocab = Vocab.build(sentences, self.min_count)
        rng = np.random.default_rng(self.seed)
        V, d = len(self.vocab), self.vector_size
        xp = backend.array_module(self.device)
        vectors = ((rng.random((V, d)) - 0.5) / d).astype(self.dtype)
        self.wv = KeyedVectors(d, self.vocab.index_to_key, backend.to_device(vectors, self.device),
                               self.vocab.counts)
        self.syn1neg = xp.zeros((V, d), dtype=self.dtype)
        return self

    # ---- training -------------------------------------------------------------------------
    def train(self, sentences, epochs=None, total_examples=None, total_words=None):
        """Train ``epochs`` passes over ``sentences``; returns (effective words, raw words) like gensim.

        Effective words are the in-vocabulary tokens that survived
        subsampling, i.e. the centers actually trained on; raw words count
        every token, out-of-vocabulary ones included (gensim's meaning).
        ``total_examples``/``total_words`` are accepted for gensim-style calls
        and unused: the corpus is read into memory, so its size is known.
        """
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: call build_vocab(sentences) first (or pass sentences to Word2Vec)")
        start_time = time.perf_counter()
        epochs = self.epochs if epochs is None else epochs
        sentences = list(sentences)
        tokens_per_epoch = sum(len(s) for s in sentences)
        ids, sentence_of = (backend.to_device(a, self.device) for a in self.vocab.encode(sentences))
        keep = backend.to_device(keep_probabilities(self.vocab.counts, self.sample), self.device)
        noise = NoiseSampler(self.vocab.counts, self.ns_exponent).to(self.device)
        self.loss_history = []
        bar = _progress_bar(epochs * tokens_per_epoch, self.progress)
        effective = 0
        for epoch in range(epochs):
            kept_ids, kept_sentence = subsample(ids, sentence_of, keep, self._rng)
            self._train_epoch(kept_ids, kept_sentence, noise, epoch, epochs)
            effective += len(kept_ids)
            if bar is not None:
                bar.update(tokens_per_epoch)
        if self.device == "cuda":
            backend.array_module("cuda").cuda.Stream.null.synchronize()  # time the queued GPU work too
        self.train_seconds = time.perf_counter() - start_time
        self.running_training_loss = sum(self.loss_history)
        if bar is not None:
            bar.close()
        return effective, epochs * tokens_per_epoch

    def _train_epoch(self, ids, sentence_of, noise, epoch, epochs):
        """One pass; the learning rate falls linearly with the fraction of all epochs done."""
        done, epoch_loss = 0, 0.0
        for blocks in iter_blocks(ids, sentence_of, noise, self._rng, window=self.window,
                                  negative=self.negative, batch_words=self.batch_words,
                                  block_words=self.block_words, pool_size=self.pool_size,
                                  shrink_windows=self.shrink_windows, dtype=self.dtype):
            progress = (epoch + done / len(ids)) / epochs
            loss = self._train_batch(blocks, self.alpha - (self.alpha - self.min_alpha) * progress)
            if self.compute_loss:
                epoch_loss += loss.item()
            done += blocks.num_words
        if self.compute_loss:
            self.loss_history.append(epoch_loss)

    def _train_batch(self, blocks, lr):
        """One row-sparse SGD step on a mini-batch of score blocks; returns the summed loss."""
        with config.enable_grad():
            centers = gather(self.wv.vectors, blocks.centers)
            candidates = gather(self.syn1neg, blocks.candidates, as_columns=True)
            loss = sgns_loss(centers, candidates, blocks.pos_weight, blocks.neg_weight, MAX_SCORE)
            loss.backward()
        sparse_sgd_step(self.wv.vectors, blocks.centers, centers, lr)
        sparse_sgd_step(self.syn1neg, blocks.candidates, candidates, lr, as_columns=True)
        return loss

    def get_latest_training_loss(self):
        """Summed SGNS loss of the last ``train`` call (0 unless ``compute_loss=True``), as gensim."""
        return self.running_training_loss

    # ---- persistence ----------------------------------------------------------------------
    _CONFIG = ("vector_size", "window", "negative", "min_count", "sample", "alpha", "min_alpha",
               "epochs", "seed", "batch_words", "ns_exponent", "shrink_windows", "block_words",
               "pool_size")

    def save(self, path):
        """Write the vocabulary, both matrices and the settings to one ``.npz`` (no pickle)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec.save: the model has no vocabulary yet")
        _save({"config": {k: getattr(self, k) for k in self._CONFIG}, "dtype": self.dtype.name,
               "index_to_key": self.vocab.index_to_key, "counts": self.vocab.counts,
               "vectors": self.wv.vectors, "syn1neg": self.syn1neg}, path)

    @classmethod
    def load(cls, path, device="cpu"):
        """A model written by ``save``, ready to query or to train further (arrays come back as Tensors)."""
        state = _load(path)
        model = cls(dtype=state["dtype"], device=device, **state["config"])
        model.vocab = Vocab(state["index_to_key"], state["counts"].numpy())
        vectors = backend.to_device(state["vectors"].numpy(), device)
        model.wv = KeyedVectors(model.vector_size, model.vocab.index_to_key, vectors, model.vocab.counts)
        model.syn1neg = backend.to_device(state["syn1neg"].numpy(), device)
        return model


def _progress_bar(total, wanted):
    if not wanted:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the 'lessons' extra)
        return None
    return tqdm(total=total, unit="word", desc="word2vec")
