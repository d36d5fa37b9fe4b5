"""word2vec bookkeeping against gensim and closed forms: vocabulary, subsampling, noise distribution."""
import numpy as np
import pytest

from minigrad.word2vec import NoiseSampler, Vocab, keep_probabilities, lee_corpus, simple_tokenize
from minigrad.word2vec.batches import subsample

gensim = pytest.importorskip("gensim")
stats = pytest.importorskip("scipy.stats")
from gensim.test.utils import datapath as gensim_datapath  # noqa: E402
from gensim.utils import simple_preprocess  # noqa: E402


@pytest.fixture(scope="module")
def lee():
    return lee_corpus()


@pytest.fixture(scope="module")
def gensim_lee_model(lee):
    model = gensim.models.Word2Vec(vector_size=10, sg=1, negative=5, min_count=2, sample=1e-3, workers=1)
    model.build_vocab(lee)
    return model


def test_tokenizer_matches_gensim_simple_preprocess(lee):
    with open(gensim_datapath("lee_background.cor"), encoding="utf8") as f:
        expected = [simple_preprocess(line) for line in f]
    assert lee == expected
    text = "Hello, World! It's 4:00pm; Zürich's café-au-lait, x_y"
    assert simple_tokenize(text) == simple_preprocess(text)


def test_vocab_counts_and_min_count_match_gensim(lee, gensim_lee_model):
    vocab = Vocab.build(lee, min_count=2)
    wv = gensim_lee_model.wv
    ours = dict(zip(vocab.index_to_key, vocab.counts.tolist()))
    theirs = {w: int(wv.get_vecattr(w, "count")) for w in wv.index_to_key}
    assert ours == theirs
    assert (np.diff(vocab.counts) <= 0).all(), "index_to_key must run from most to least frequent"
    assert vocab.key_to_index[vocab.index_to_key[7]] == 7


def test_vocab_encode_drops_unknown_words_and_keeps_sentence_ids():
    vocab = Vocab.build([["a", "b", "a"], ["c", "a", "zz"]], min_count=1)
    ids, sentence_of = vocab.encode([["a", "qq", "b"], [], ["c", "a"]])
    assert [vocab.index_to_key[i] for i in ids] == ["a", "b", "c", "a"]
    assert sentence_of.tolist() == [0, 0, 2, 2]


def test_vocab_rejects_bad_input():
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build([["a"]], min_count=0)
    with pytest.raises(ValueError, match="no word occurs at least min_count=3"):
        Vocab.build([["a", "b"]], min_count=3)
    with pytest.raises(TypeError, match="list of tokens"):
        Vocab.build(["a sentence given as one string"])


def test_keep_probabilities_equal_gensim_and_c_formula(lee, gensim_lee_model):
    vocab = Vocab.build(lee, min_count=2)
    sample = 1e-3
    keep = keep_probabilities(vocab.counts, sample)
    # word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn
    threshold = sample * vocab.counts.sum()
    c_tool = np.minimum(1.0, (np.sqrt(vocab.counts / threshold) + 1) * threshold / vocab.counts)
    np.testing.assert_allclose(keep, c_tool, rtol=0, atol=1e-12)
    # gensim stores round(p * 2^32) as an integer: exact to 2^-32 < 1e-9
    wv = gensim_lee_model.wv
    theirs = np.array([wv.get_vecattr(w, "sample_int") for w in vocab.index_to_key]) / 2.0 ** 32
    np.testing.assert_allclose(keep, theirs, rtol=0, atol=1e-9)
    assert keep.min() < 0.2 and keep.max() == 1.0  # "the" is cut hard, rare words always kept


def test_keep_probabilities_sample_zero_keeps_everything_and_negative_raises():
    assert (keep_probabilities([5, 100, 10_000], 0) == 1).all()
    with pytest.raises(ValueError, match="sample must be >= 0"):
        keep_probabilities([1, 2], -1e-3)


def test_subsampling_keeps_each_word_at_its_probability():
    counts = np.array([50_000, 5_000, 500, 50])
    ids = np.repeat(np.arange(4), counts)
    keep = keep_probabilities(counts, 1e-2)
    kept, _ = subsample(ids, np.zeros_like(ids), keep, np.random.default_rng(0))
    kept_per_word = np.bincount(kept, minlength=4)
    sigma = np.sqrt(counts * keep * (1 - keep))
    assert (np.abs(kept_per_word - counts * keep) <= 5 * sigma + 1e-9).all()


def test_alias_table_reproduces_unigram_power_exactly():
    counts = np.random.default_rng(1).integers(1, 1000, size=500)
    sampler = NoiseSampler(counts, exponent=0.75)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(sampler.probs, expected, rtol=1e-12)
    # each column keeps accept[i] of its own word and gives 1 - accept[i] to alias[i]
    V = len(counts)
    mass = sampler.accept.copy()
    np.add.at(mass, sampler.alias, 1 - sampler.accept)
    np.testing.assert_allclose(mass / V, expected, rtol=0, atol=1e-12)


def test_noise_draws_pass_chi_square_against_count_power(lee):
    vocab = Vocab.build(lee, min_count=2)
    sampler = NoiseSampler(vocab.counts, exponent=0.75)
    draws = sampler.sample(np.random.default_rng(2024), 10 ** 6)
    observed = np.bincount(draws, minlength=len(vocab))
    weights = vocab.counts.astype(float) ** 0.75
    expected = 10 ** 6 * weights / weights.sum()
    assert expected.min() > 5, "chi-square needs >= 5 expected draws per word"
    _, p = stats.chisquare(observed, expected)
    assert p > 1e-3


def test_noise_sampler_rejects_bad_counts():
    for bad in ([], [0, 0], [3, -1], [[1, 2]]):
        with pytest.raises(ValueError, match="NoiseSampler"):
            NoiseSampler(np.array(bad))
