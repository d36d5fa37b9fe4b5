"""Word2Vec training: learning-rate schedule, sparsity, determinism, persistence, and quality beside gensim."""
import numpy as np
import pytest

from minigrad.word2vec import Word2Vec, datapath, lee_corpus

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture(scope="module")
def lee():
    return lee_corpus()


def test_train_counts_raw_and_effective_words_like_gensim(lee):
    ours = Word2Vec(min_count=2, epochs=2, seed=3)
    ours.build_vocab(lee)
    effective, raw = ours.train(lee)
    theirs = gensim_models.Word2Vec(vector_size=20, sg=1, min_count=2, workers=1, seed=3)
    theirs.build_vocab(lee)
    effective_g, raw_g = theirs.train(lee, total_examples=len(lee), epochs=2)
    assert raw == raw_g == 2 * sum(len(s) for s in lee)
    assert effective == pytest.approx(effective_g, rel=0.01)  # both subsample at random with the same rule


def test_learning_rate_falls_linearly_from_alpha_to_min_alpha(lee, monkeypatch):
    model = Word2Vec(min_count=2, epochs=3, alpha=0.05, min_alpha=0.001, batch_words=2048)
    model.build_vocab(lee)
    seen = []
    original = model._train_batch

    def record(blocks, lr):
        seen.append((lr, blocks.num_words))
        return original(blocks, lr)

    monkeypatch.setattr(model, "_train_batch", record)
    effective, _ = model.train(lee)
    lrs, words = np.array(seen).T
    words_before = np.concatenate([[0], np.cumsum(words)[:-1]])
    progress = words_before / effective  # epochs have (nearly) equal size after subsampling
    np.testing.assert_allclose(lrs, 0.05 - (0.05 - 0.001) * progress, atol=5e-4)
    assert lrs[0] == 0.05 and (np.diff(lrs) < 0).all() and lrs[-1] < 0.002


def test_training_changes_only_rows_of_words_it_sees():
    sentences = [["a", "b", "c", "a", "b"], ["c", "d", "a"], ["b", "unseen", "c"]] * 20
    model = Word2Vec(min_count=1, sample=0)  # vocabulary from all; "unseen" only in the third
    model.build_vocab(sentences)
    before = model.wv.vectors.copy()
    model.train(sentences[:2] * 10, epochs=2)
    unseen = model.wv.get_index("unseen")
    changed = np.any(model.wv.vectors != before, axis=1)
    assert not changed[unseen] and changed.sum() == len(model.wv) - 1


def test_same_seed_gives_identical_vectors_and_save_load_roundtrip(lee, tmp_path):
    small = lee[:60]
    a = Word2Vec(small, min_count=2, epochs=2, seed=5, vector_size=32)
    b = Word2Vec(small, min_count=2, epochs=2, seed=5, vector_size=32)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    a.save(tmp_path / "w2v.npz")
    c = Word2Vec.load(tmp_path / "w2v.npz")
    assert c.wv.index_to_key == a.wv.index_to_key and c.vector_size == 32 and c.epochs == 2
    np.testing.assert_array_equal(c.wv.vectors, a.wv.vectors)
    np.testing.assert_array_equal(c.syn1neg, a.syn1neg)
    c.train(small, epochs=1)  # a loaded model keeps training
    assert np.any(c.wv.vectors != a.wv.vectors)


def test_loss_is_recorded_and_falls(lee):
    model = Word2Vec(lee, min_count=2, epochs=4, compute_loss=True)
    assert len(model.loss_history) == 4
    assert model.loss_history[-1] < model.loss_history[0]
    assert model.get_latest_training_loss() == pytest.approx(sum(model.loss_history))


def test_word2vec_rejects_bad_arguments():
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        Word2Vec(window=0)
    with pytest.raises(ValueError, match="min_alpha"):
        Word2Vec(alpha=0.01, min_alpha=0.1)
    with pytest.raises(TypeError, match="list of tokens"):
        Word2Vec(["a whole sentence as a string"], min_count=1)
    with pytest.raises(RuntimeError, match="build_vocab"):
        Word2Vec().train([["a"]])


def test_progress_bar_is_optional(lee, capsys):
    Word2Vec(lee[:20], min_count=1, epochs=1, progress=True)
    assert "word2vec" in capsys.readouterr().err


@pytest.mark.slow
def test_wordsim353_spearman_within_005_of_gensim_on_lee(lee):
    """min_count=2, epochs=20, mean over seeds 1-3, in-vocabulary pairs only (OOV rate printed)."""
    path = datapath("wordsim353.tsv")
    ours, theirs = [], []
    for seed in (1, 2, 3):
        m = Word2Vec(lee, min_count=2, epochs=20, seed=seed)
        g = gensim_models.Word2Vec(lee, vector_size=100, sg=1, negative=5, min_count=2, epochs=20,
                                   workers=1, seed=seed)
        _, (rho, _), oov = m.wv.evaluate_word_pairs(path)
        _, (rho_g, _), oov_g = g.wv.evaluate_word_pairs(path)
        assert oov == oov_g  # same vocabulary, same pairs
        ours.append(rho)
        theirs.append(rho_g)
    print(f"WordSim-353 Spearman minigrad {np.mean(ours):.3f} {np.round(ours, 3)}, "
          f"gensim {np.mean(theirs):.3f} {np.round(theirs, 3)}, OOV {oov:.1f}%")
    assert np.mean(theirs) > 0.15, "gensim itself should find signal here"
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.05


@pytest.mark.gpu
def test_word2vec_trains_on_cuda_to_cpu_quality(lee):
    cupy = pytest.importorskip("cupy")
    from minigrad import backend

    if not backend.cupy_available():
        pytest.skip("no CUDA device visible to CuPy")
    model = Word2Vec(lee, min_count=2, epochs=20, device="cuda", compute_loss=True)
    assert isinstance(model.wv.vectors, cupy.ndarray) and isinstance(model.syn1neg, cupy.ndarray)
    assert model.loss_history[-1] < model.loss_history[0]
    cpu = Word2Vec(lee, min_count=2, epochs=20)
    path = datapath("wordsim353.tsv")
    rho_gpu = model.wv.evaluate_word_pairs(path)[1][0]
    rho_cpu = cpu.wv.evaluate_word_pairs(path)[1][0]
    assert abs(rho_gpu - rho_cpu) < 0.08  # different random streams, same algorithm
