"""Skip-gram word2vec with negative sampling, trained with minigrad (gensim's API and defaults).

    from minigrad.word2vec import Word2Vec, lee_corpus
    model = Word2Vec(lee_corpus(), min_count=2, epochs=20)
    model.wv.most_similar("fire", topn=5)

Modules: ``vocab`` (vocabulary, subsampling, noise sampler), ``batches``
(score blocks), ``sgns`` (loss and row-sparse update), ``model`` (training),
``keyedvectors`` (lookup and evaluation), ``data`` (gensim's sample data).
"""
from minigrad.word2vec.data import datapath, lee_corpus, simple_tokenize
from minigrad.word2vec.keyedvectors import KeyedVectors
from minigrad.word2vec.model import Word2Vec
from minigrad.word2vec.sgns import scatter_add, sgns_loss
from minigrad.word2vec.vocab import NoiseSampler, Vocab, keep_probabilities

__all__ = [
    "KeyedVectors", "NoiseSampler", "Vocab", "Word2Vec", "datapath", "keep_probabilities",
    "lee_corpus", "scatter_add", "sgns_loss", "simple_tokenize",
]
