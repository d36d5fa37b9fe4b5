"""train_gpt end to end: DDP over 4 ranks = one process on the combined batch, bit-identical resume,
and a short run that beats a bigram model on held-out text.

The script is run the way users run it: ``mpiexec -n 4 python -m minigrad.examples.train_gpt``
(a subprocess with a timeout), or its ``main(argv)`` in this process for one rank.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import train_gpt
from minigrad.examples.chardata import CharData
from minigrad.models.gpt import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8", "--no-plot", "--quiet",
        "--sample-tokens", "0", "--eval-batches", "4"]


@pytest.fixture(scope="module")
def lee_path():
    gensim_utils = pytest.importorskip("gensim.test.utils")
    return gensim_utils.datapath("lee_background.cor")


def run_mpi_module(p, args, timeout=180):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"):
        env.pop(name, None)
    command = ["mpiexec", "-n", str(p), sys.executable, "-m", "minigrad.examples.train_gpt", *args]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"{' '.join(command)} still running after {timeout} s\n{stdout}\n{stderr}")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{stdout}\n{stderr}"
    return stdout


def params_of(out_dir):
    return mg.load(os.path.join(out_dir, "ckpt.npz"))["model"]


def max_gap(a, b):
    return max(float(np.abs(a[k].numpy() - b[k].numpy()).max()) for k in a)


@pytest.mark.mpi
def test_4_ranks_with_accumulation_and_clipping_equal_one_process_on_the_combined_batch(tmp_path, lee_path):
    common = ["--data", lee_path, "--dtype", "float64", "--steps", "3", "--warmup", "0", "--lr", "1e-2",
              "--eval-interval", "100", "--clip", "0.05", *TINY]
    run_mpi_module(4, [*common, "--batch-size", "2", "--grad-accum", "2", "--out", str(tmp_path / "ddp")])
    train_gpt.main([*common, "--batch-size", "16", "--grad-accum", "1", "--out", str(tmp_path / "one")])
    ddp, one = params_of(tmp_path / "ddp"), params_of(tmp_path / "one")
    assert max_gap(ddp, one) < 1e-10
    # the clip was active: without it the single-process run ends elsewhere
    unclipped = [a for a in common if a not in ("--clip", "0.05")]
    train_gpt.main([*unclipped, "--clip", "0", "--batch-size", "16", "--out", str(tmp_path / "noclip")])
    assert max_gap(params_of(tmp_path / "noclip"), one) > 1e-4


def test_resume_continues_bit_identically_with_dropout(tmp_path, lee_path):
    common = ["--data", lee_path, "--batch-size", "4", "--eval-interval", "3", "--dropout", "0.1", "--warmup", "2",
              *TINY]
    straight = train_gpt.main([*common, "--steps", "6", "--out", str(tmp_path / "straight")])
    train_gpt.main([*common, "--steps", "3", "--decay-steps", "6", "--out", str(tmp_path / "split")])
    resumed = train_gpt.main([*common, "--steps", "6", "--out", str(tmp_path / "split"), "--resume"])
    assert resumed["history"]["train"] == straight["history"]["train"]  # exact floats
    assert resumed["history"]["val"] == straight["history"]["val"]
    a, b = params_of(tmp_path / "straight"), params_of(tmp_path / "split")
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    with pytest.raises(SystemExit, match="another model"):
        train_gpt.main([*common, "--steps", "6", "--n-embd", "32", "--out", str(tmp_path / "split"), "--resume"])


@pytest.mark.mpi
def test_resume_on_2_ranks_with_dropout_is_bit_identical(tmp_path, lee_path):
    """Each rank's own dropout stream is checkpointed and restored: the continued run is the straight one."""
    common = ["--data", lee_path, "--batch-size", "2", "--grad-accum", "2", "--eval-interval", "3",
              "--dropout", "0.1", "--warmup", "2", *TINY]
    run_mpi_module(2, [*common, "--steps", "6", "--out", str(tmp_path / "straight")])
    run_mpi_module(2, [*common, "--steps", "3", "--decay-steps", "6", "--out", str(tmp_path / "split")])
    run_mpi_module(2, [*common, "--steps", "6", "--out", str(tmp_path / "split"), "--resume"])
    a, b = (mg.load(str(tmp_path / d / "ckpt.npz")) for d in ("straight", "split"))
    assert a["history"] == b["history"] and len(a["rng"]) == 2 and a["rng"][0] != a["rng"][1]
    assert all(np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()) for k in a["model"])
    with pytest.raises(SystemExit, match="written by 2 ranks"):
        train_gpt.main([*common, "--steps", "6", "--out", str(tmp_path / "split"), "--resume"])


def test_learning_rate_is_warmup_then_torch_cosine_annealing():
    torch = pytest.importorskip("torch")
    args = train_gpt.parse_args(["--lr", "1e-2", "--min-lr", "1e-3", "--warmup", "5", "--steps", "25"])
    assert [train_gpt.get_lr(s, args) for s in range(5)] == pytest.approx([1e-2 * (s + 1) / 6 for s in range(5)])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-2)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)
    for s in range(5, 26):
        assert train_gpt.get_lr(s, args) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), s
        opt.step()
        cosine.step()


def test_chardata_split_and_shifted_targets(tmp_path):
    text = "".join(chr(ord("a") + i % 7) for i in range(1000))
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    data = CharData.from_file(str(path))
    assert data.vocab_size == 7 and data.decode(data.splits["val"]) == text[900:]
    x, y = data.batch("train", 5, 10, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 10)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        data.encode("xyz")


def full_split_losses(model, data, block_size):
    """Mean next-character loss over the whole validation split (non-overlapping windows), GPT and bigram."""
    ids = data.splits["val"]
    n = (len(ids) - 1) // block_size
    x = ids[:n * block_size].reshape(n, block_size)  # (n, T)
    y = ids[1:n * block_size + 1].reshape(n, block_size)  # (n, T)
    with mg.no_grad():
        model.eval()
        gpt = float(np.mean([model(mg.tensor(xb), mg.tensor(yb))[1].item()
                             for xb, yb in zip(np.array_split(x, 8), np.array_split(y, 8))]))
    train = data.splits["train"]
    counts = np.zeros((data.vocab_size, data.vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    bigram = min(  # the bigram gets its best add-alpha smoothing, chosen on the validation split itself
        float(-np.log(((counts + a) / (counts + a).sum(1, keepdims=True))[x, y]).mean())
        for a in (0.01, 0.1, 0.5, 1.0))
    return gpt, bigram


def test_short_run_beats_the_best_bigram_on_held_out_text(tmp_path, lee_path):
    argv = ["--data", lee_path, "--steps", "300", "--batch-size", "32", "--block-size", "32", "--n-layer", "2",
            "--n-head", "4", "--n-embd", "64", "--lr", "5e-3", "--warmup", "20", "--min-lr", "1e-3",
            "--eval-interval", "300", "--quiet", "--no-plot", "--sample-tokens", "0", "--out", str(tmp_path)]
    train_gpt.main(argv)
    ckpt = mg.load(str(tmp_path / "ckpt.npz"))
    model = GPT(GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    gpt, bigram = full_split_losses(model, CharData.from_file(lee_path), 32)
    assert gpt < bigram - 0.1, (gpt, bigram)


@pytest.mark.cuda
def test_device_cuda_trains_like_the_cpu(tmp_path, lee_path):
    """--device cuda (a GPU, or the CuPy stand-in that refuses host arrays): the same losses as the CPU."""
    common = ["--data", lee_path, "--steps", "4", "--batch-size", "4", "--eval-interval", "2", "--dtype", "float64",
              *[a for a in TINY if a not in ("--sample-tokens", "0")], "--sample-tokens", "5"]
    on_gpu = train_gpt.main([*common, "--device", "cuda", "--out", str(tmp_path / "gpu")])
    on_cpu = train_gpt.main([*common, "--device", "cpu", "--out", str(tmp_path / "cpu")])
    np.testing.assert_allclose(on_gpu["history"]["train"], on_cpu["history"]["train"], rtol=1e-10)
    resumed = train_gpt.main([*common, "--steps", "6", "--device", "cuda", "--out", str(tmp_path / "gpu"), "--resume"])
    assert len(resumed["history"]["train"]) == 6


def test_missing_text_and_missing_gensim_give_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no text file at .*nowhere.txt"):
        train_gpt.main(["--data", str(tmp_path / "nowhere.txt"), "--out", str(tmp_path)])
    monkeypatch.setitem(sys.modules, "gensim.test.utils", None)  # as if gensim were not installed
    with pytest.raises(SystemExit, match="--data FILE"):
        train_gpt.main(["--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="no checkpoint"):
        train_gpt.main(["--data", __file__, "--out", str(tmp_path / "empty"), "--resume"])


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_amp_follows_float32_and_resumes_bit_identically(tmp_path, lee_path, precision):
    common = ["--data", lee_path, "--batch-size", "4", "--eval-interval", "3", "--lr", "1e-2", "--warmup", "0",
              *TINY]
    full = train_gpt.main([*common, "--steps", "6", "--out", str(tmp_path / "fp32")])["history"]["train"]
    mixed = train_gpt.main([*common, "--steps", "6", "--amp", precision, "--out", str(tmp_path / "amp")])
    half = mixed["history"]["train"]
    assert half != full  # the compute copy was used...
    np.testing.assert_allclose(half, full, rtol=0.02)  # ...and rounds, but trains the same model
    train_gpt.main([*common, "--steps", "3", "--decay-steps", "6", "--amp", precision, "--out", str(tmp_path / "split")])
    resumed = train_gpt.main([*common, "--steps", "6", "--amp", precision, "--out", str(tmp_path / "split"),
                              "--resume"])
    assert resumed["history"]["train"] == half
    scaler = mg.load(str(tmp_path / "split" / "ckpt.npz"))["scaler"]
    assert (scaler["scale"] > 0) if precision == "float16" else scaler == {}
