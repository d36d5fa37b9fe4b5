"""Train skip-gram word2vec on the Lee corpus with minigrad, and gensim beside it on the same settings.

    python -m minigrad.examples.word2vec [--epochs 20] [--seed 1] [--device cpu|cuda]

Prints effective words/s, WordSim-353 and SimLex-999 Spearman (in-vocabulary
pairs, with the out-of-vocabulary rate) and a few nearest neighbours. The
corpus and the similarity sets ship with gensim's tests; gensim's own model
is trained too when gensim is installed.
"""
import argparse

from minigrad.word2vec import Word2Vec, datapath, lee_corpus

SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=2)


def evaluate(wv):
    _, (wordsim, _), oov = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    _, (simlex, _), _ = wv.evaluate_word_pairs(datapath("simlex999.txt"))
    return wordsim, simlex, oov


def train_gensim(sentences, epochs, seed):
    try:
        from gensim.models import Word2Vec as GensimWord2Vec
    except ImportError:
        return None
    import time

    model = GensimWord2Vec(sg=1, workers=1, seed=seed, **SETTINGS)
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, _ = model.train(sentences, total_examples=len(sentences), epochs=epochs)
    return model, effective / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description="skip-gram word2vec on the Lee corpus")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    sentences = lee_corpus()
    print(f"Lee corpus: {len(sentences)} documents, {sum(map(len, sentences)):,} tokens, "
          f"min_count={SETTINGS['min_count']}, epochs={args.epochs}")
    model = Word2Vec(seed=args.seed, epochs=args.epochs, device=args.device, progress=True, **SETTINGS)
    model.build_vocab(sentences)
    effective, _ = model.train(sentences)
    rows = [("minigrad", model.wv, effective / model.train_seconds)]
    gensim_result = train_gensim(sentences, args.epochs, args.seed)
    if gensim_result is not None:
        rows.append(("gensim (workers=1)", gensim_result[0].wv, gensim_result[1]))

    print(f"\n{'model':<20} {'words/s':>10} {'WordSim-353':>12} {'SimLex-999':>11} {'OOV %':>6}")
    for name, wv, rate in rows:
        wordsim, simlex, oov = evaluate(wv)
        print(f"{name:<20} {rate:>10,.0f} {wordsim:>12.3f} {simlex:>11.3f} {oov:>6.1f}")
    for word in ("fire", "police", "government"):
        neighbours = ", ".join(w for w, _ in model.wv.most_similar(word, topn=5))
        print(f"nearest to {word!r}: {neighbours}")


if __name__ == "__main__":
    main()
