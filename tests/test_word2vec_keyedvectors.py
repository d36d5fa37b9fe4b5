"""KeyedVectors against gensim's KeyedVectors holding the very same vectors."""
import numpy as np
import pytest

from minigrad.word2vec import KeyedVectors, datapath, lee_corpus
from minigrad.word2vec.vocab import Vocab

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture(scope="module")
def both():
    """Our KeyedVectors and gensim's, same words (Lee vocabulary) and same random float32 vectors."""
    vocab = Vocab.build(lee_corpus(), min_count=2)
    vectors = np.random.default_rng(0).standard_normal((len(vocab), 16)).astype(np.float32)
    ours = KeyedVectors(16, vocab.index_to_key, vectors.copy(), vocab.counts)
    theirs = gensim_models.KeyedVectors(16)
    theirs.add_vectors(vocab.index_to_key, vectors.copy())
    return ours, theirs


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_evaluate_word_pairs_matches_gensim(both, name, dummy4unknown):
    ours, theirs = both
    (r, p_r), (rho, p_rho), oov = ours.evaluate_word_pairs(datapath(name), dummy4unknown=dummy4unknown)
    (r_g, p_r_g), (rho_g, p_rho_g), oov_g = theirs.evaluate_word_pairs(datapath(name), dummy4unknown=dummy4unknown)
    assert oov == pytest.approx(oov_g, abs=1e-12)
    # gensim takes float32 cosines, we take float64 ones: agreement to float32 rounding
    assert r == pytest.approx(r_g, abs=1e-6)
    assert rho == pytest.approx(rho_g, abs=1e-6)
    assert p_r == pytest.approx(p_r_g, rel=1e-4)
    assert p_rho == pytest.approx(p_rho_g, rel=1e-4)


def test_evaluate_word_pairs_restrict_vocab_and_errors(both, tmp_path):
    ours, theirs = both
    ours_small = ours.evaluate_word_pairs(datapath("wordsim353.tsv"), restrict_vocab=500)
    theirs_small = theirs.evaluate_word_pairs(datapath("wordsim353.tsv"), restrict_vocab=500)
    assert ours_small[2] == pytest.approx(theirs_small[2])
    assert ours_small[1][0] == pytest.approx(theirs_small[1][0], abs=1e-6)
    empty = tmp_path / "pairs.tsv"
    empty.write_text("# only a comment\nzzzz\tyyyy\t3.0\nnot a valid line\n")
    with pytest.raises(ValueError, match="no usable pair"):
        ours.evaluate_word_pairs(str(empty))


def test_similarity_and_most_similar_match_gensim(both):
    ours, theirs = both
    assert ours.similarity("fire", "blaze") == pytest.approx(float(theirs.similarity("fire", "blaze")), abs=1e-6)
    for query in [dict(positive="fire"), dict(positive=["king", "woman"], negative=["man"]),
                  dict(positive=["police"], negative="fire")]:
        got = ours.most_similar(topn=8, **query)
        want = theirs.most_similar(topn=8, **query)
        assert [w for w, _ in got] == [w for w, _ in want]
        np.testing.assert_allclose([c for _, c in got], [c for _, c in want], atol=1e-6)


def test_getitem_returns_vectors_and_names_missing_words(both):
    ours, theirs = both
    np.testing.assert_array_equal(ours["fire"], theirs["fire"])
    np.testing.assert_array_equal(ours[["fire", "the"]], theirs[["fire", "the"]])
    assert "fire" in ours and "qwertyuiop" not in ours and len(ours) == len(theirs)
    with pytest.raises(KeyError, match="qwertyuiop"):
        ours["qwertyuiop"]
    with pytest.raises(ValueError, match="at least one"):
        ours.most_similar()


def test_keyedvectors_save_load_roundtrip(both, tmp_path):
    ours, _ = both
    ours.save(tmp_path / "wv.npz")
    loaded = KeyedVectors.load(tmp_path / "wv.npz")
    assert loaded.index_to_key == ours.index_to_key
    np.testing.assert_array_equal(loaded.vectors, ours.vectors)
    np.testing.assert_array_equal(loaded.counts, ours.counts)
