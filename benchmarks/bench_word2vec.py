"""Skip-gram negative sampling on the Lee corpus: minigrad vs gensim (workers=1 and 2), same run.

Run: python benchmarks/bench_word2vec.py [--sweep] [--repeats 3]

Settings (issue 7): vector_size=100, window=5, negative=5, sample=1e-3,
min_count=2, epochs=20; speed is gensim's "effective words/s" (in-vocabulary
tokens kept by subsampling, per second of train()). Targets: minigrad on CPU
at least gensim workers=1; through CuPy on a GPU at least 3x gensim workers=2.
Quality: WordSim-353 Spearman (in-vocabulary pairs) within 0.05 of gensim's,
mean of seeds 1-3. ``--sweep`` adds the batch-size table (speed vs quality).

BLAS is pinned to one thread, so minigrad (one process, one thread) faces
gensim's single C worker on equal terms; gensim workers=2 uses both cores.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from minigrad import backend  # noqa: E402
from minigrad.word2vec import Word2Vec, datapath, lee_corpus  # noqa: E402

SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=2)
EPOCHS = 20


def gensim_run(sentences, workers, seed=1):
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(sg=1, workers=workers, seed=seed, **SETTINGS)
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, _ = model.train(sentences, total_examples=len(sentences), epochs=EPOCHS)
    return model, effective / (time.perf_counter() - start)


def minigrad_run(sentences, seed=1, device="cpu", **overrides):
    model = Word2Vec(seed=seed, epochs=EPOCHS, device=device, **{**SETTINGS, **overrides})
    model.build_vocab(sentences)
    effective, _ = model.train(sentences)
    return model, effective / model.train_seconds


def scores(model):
    """(WordSim-353 Spearman, SimLex-999 Spearman, WordSim OOV %)."""
    _, (ws, _), oov = model.wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    _, (sl, _), _ = model.wv.evaluate_word_pairs(datapath("simlex999.txt"))
    return ws, sl, oov


def speed_table(sentences, repeats, gpu):
    """Interleave the contenders so machine load hits them alike; median of the repeats."""
    runs = {"gensim workers=1": [], "gensim workers=2": [], "minigrad cpu": []}
    if gpu:
        runs["minigrad cuda"] = []
    for _ in range(repeats):
        runs["gensim workers=1"].append(gensim_run(sentences, 1)[1])
        runs["gensim workers=2"].append(gensim_run(sentences, 2)[1])
        runs["minigrad cpu"].append(minigrad_run(sentences)[1])
        if gpu:
            runs["minigrad cuda"].append(minigrad_run(sentences, device="cuda")[1])
    base1, base2 = np.array(runs["gensim workers=1"]), np.array(runs["gensim workers=2"])
    print(f"\nSpeed: effective words/s, Lee corpus, {EPOCHS} epochs, median of {repeats} interleaved runs")
    print(f"{'contender':<18} {'words/s':>10} {'vs gensim w=1':>14} {'vs gensim w=2':>14}")
    for name, rates in runs.items():
        rates = np.array(rates)
        print(f"{name:<18} {np.median(rates):>10,.0f} {np.median(rates / base1):>13.2f}x "
              f"{np.median(rates / base2):>13.2f}x")


def quality_table(sentences, seeds=(1, 2, 3)):
    rows = {"gensim workers=1": [scores(gensim_run(sentences, 1, seed)[0]) for seed in seeds],
            "minigrad cpu": [scores(minigrad_run(sentences, seed)[0]) for seed in seeds]}
    print(f"\nQuality: Spearman on in-vocabulary pairs, mean of seeds {list(seeds)}")
    print(f"{'contender':<18} {'WordSim-353':>12} {'SimLex-999':>11} {'WS OOV %':>9}")
    for name, results in rows.items():
        ws, sl, oov = np.mean(results, axis=0)
        print(f"{name:<18} {ws:>12.3f} {sl:>11.3f} {oov:>9.1f}")
    gap = np.mean([r[0] for r in rows["minigrad cpu"]]) - np.mean([r[0] for r in rows["gensim workers=1"]])
    print(f"WordSim-353 gap minigrad - gensim: {gap:+.3f} (target |gap| <= 0.05)")


def batch_sweep(sentences, seeds=(1, 2, 3)):
    """Bigger mini-batches: fewer, larger array ops, but more stale gradient per update."""
    print(f"\nBatch size (centers per update) vs quality, block_words=32, pool_size=16, seeds {list(seeds)}")
    print(f"{'batch_words':>11} {'updates/epoch':>14} {'words/s':>10} {'WordSim-353':>12} {'SimLex-999':>11}")
    for batch_words in (256, 1024, 4096, 16384):
        results, rates = [], []
        for seed in seeds:
            model, rate = minigrad_run(sentences, seed, batch_words=batch_words)
            results.append(scores(model))
            rates.append(rate)
        updates = rate * model.train_seconds / EPOCHS / batch_words  # effective words per epoch / batch
        ws, sl, _ = np.mean(results, axis=0)
        print(f"{batch_words:>11} {updates:>14.0f} {np.median(rates):>10,.0f} {ws:>12.3f} {sl:>11.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweep", action="store_true", help="also print the batch-size table")
    args = parser.parse_args()
    sentences = lee_corpus()
    gpu = backend.cupy_available()
    print(f"Lee corpus: {len(sentences)} documents, {sum(map(len, sentences)):,} tokens; GPU: {gpu}")
    speed_table(sentences, args.repeats, gpu)
    quality_table(sentences)
    if args.sweep:
        batch_sweep(sentences)


if __name__ == "__main__":
    main()
