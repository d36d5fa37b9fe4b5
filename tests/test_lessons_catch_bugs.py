"""Each lesson's CHECK cells must catch the bug the lesson is about.

For every lesson, plant one realistic bug in a COPY of the library (a textual
patch of one line), run the lesson as a script against that copy
(``PYTHONPATH=<copy>``), and require it to stop on an AssertionError. A lesson
whose asserts still pass with the technique broken proves nothing.

The control runs lesson 00 against an unpatched copy: the copy imports and runs,
so a failure below is the bug's doing, not the harness's.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"

# (lesson, file in minigrad/, text to replace, replacement, the bug in words)
BUGS = [
    ("00_tour.py", "nn/functional.py",
     "return _reduce(diff * diff, reduction)", "return _reduce(diff * diff.detach(), reduction)",
     "mse_loss's gradient loses its factor 2 (one side of the square detached)"),
    ("01_autograd.py", "functions/elementwise.py",
     "return gy * (1 - y * y)", "return gy * (1 - y)",
     "tanh's backward uses 1 - tanh instead of 1 - tanh^2"),
    ("02_sgd_momentum_newton.py", "optim/sgd.py",
     "buf *= momentum\n", "\n",
     "the momentum buffer is never decayed (it sums every gradient)"),
    ("03_gradient_clipping.py", "nn/utils.py",
     "coef = xp.minimum(max_norm / (total + 1e-6), 1.0)", "coef = xp.maximum(max_norm / (total + 1e-6), 1.0)",
     "clip_grad_norm_ takes max instead of min: never clips, inflates small gradients"),
    ("04_gradient_accumulation.py", "training.py",
     "(loss / total).backward()", "(loss / counts[j] / len(micro_batches)).backward()",
     "accumulate averages the micro-batch means"),
    ("06_qsgd.py", "compress/qsgd.py",
     "step = norms.astype(np.float64) / (levels * world_size)",
     "step = np.ones(norms.shape) / (levels * world_size)",
     "QSGD's decoder drops the bucket norm"),
    ("06_qsgd.py", "compress/feedback.py",
     "self.residuals[key] = accumulated", "self.residuals[key] = 0 * accumulated",
     "TopK forgets its residual: no error feedback"),
    ("08_gpt_end_to_end.py", "models/gpt.py",
     "is_causal=True)", "is_causal=False)",
     "the GPT's attention sees future tokens (no causal mask)"),
    ("13_gradient_compression.py", "compress/dgc.py",
     "v += u", "v += g",
     "DGC accumulates the gradient, not the velocity: no momentum correction"),
    ("07_negative_sampling.py", "word2vec/model.py",
     "self.alpha - (self.alpha - self.min_alpha) * progress", "self.alpha",
     "word2vec's learning rate never decays"),
]


def library_copy(tmp_path, patch=None):
    """Copy minigrad/ under tmp_path, apply (file, old, new) once; return the PYTHONPATH entry."""
    shutil.copytree(ROOT / "minigrad", tmp_path / "minigrad", ignore=shutil.ignore_patterns("__pycache__"))
    if patch is not None:
        relative, old, new = patch
        target = tmp_path / "minigrad" / relative
        text = target.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"the planted bug no longer applies: {old!r} found {text.count(old)} times in {relative}"
        target.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def run_lesson(lesson, pythonpath):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(pythonpath),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, lesson], cwd=LESSONS, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_planted_bug_still_applies():
    """Fast guard for the default run: each patch finds its line exactly once in today's library."""
    for lesson, relative, old, _, bug in BUGS:
        text = (ROOT / "minigrad" / relative).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{lesson}: the planted bug ({bug}) no longer applies to {relative}"
        assert (LESSONS / lesson).exists(), lesson


@pytest.mark.lesson
def test_lesson_runs_against_an_unpatched_copy(tmp_path):
    result = run_lesson("00_tour.py", library_copy(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(tmp_path) in subprocess.run(
        [sys.executable, "-c", "import minigrad; print(minigrad.__file__)"],
        cwd=LESSONS, env=dict(os.environ, PYTHONPATH=str(tmp_path)), capture_output=True, text=True,
        timeout=60).stdout


@pytest.mark.lesson
@pytest.mark.slow
@pytest.mark.parametrize("lesson, relative, old, new, bug", BUGS, ids=[f"{b[0][:2]}-{b[1]}" for b in BUGS])
def test_lesson_fails_with_its_bug_planted(tmp_path, lesson, relative, old, new, bug):
    assert (LESSONS / lesson).exists(), lesson
    result = run_lesson(lesson, library_copy(tmp_path, (relative, old, new)))
    assert result.returncode != 0, f"{lesson} still passes with the bug planted: {bug}"
    assert "AssertionError" in result.stderr, (
        f"{lesson} failed, but not on a check (bug: {bug}):\n{result.stderr[-3000:]}")
