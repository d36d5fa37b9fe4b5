"""Execute every lesson as a notebook, the way a reader opens it in Jupyter.

Lessons are Jupytext percent scripts, ``lessons/NN_topic.py``. Each is read with
jupytext and run cell by cell with nbclient on the ``python3`` kernel (this
interpreter), from ``lessons/`` as the working directory. A failing cell fails
the test and shows that cell's source and its error.

A lesson still stored as ``NN_topic.ipynb`` with no ``.py`` of the same number
is executed too, so the suite stays complete while lessons are being converted.
"""
import os
import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from nbclient.exceptions import CellExecutionError  # noqa: E402

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
TIMEOUT_S = 300  # per lesson; each is written to finish in under a minute
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def lesson_paths():
    sources = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    numbers = {p.name[:2] for p in sources}
    stored = [p for p in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")) if p.name[:2] not in numbers]
    return sorted(sources + stored)


def read_lesson(path):
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return jupytext.read(path)


def lesson_env():
    """The kernel imports this checkout's minigrad and draws plots off-screen."""
    env = dict(os.environ, MPLBACKEND="Agg")
    root = str(LESSONS.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [root, env.get("PYTHONPATH", "")] if p)
    return env


def execute_lesson(path):
    """Run every cell of a lesson; raise AssertionError naming the failing cell."""
    nb = read_lesson(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(LESSONS)}})
    try:
        client.execute(env=lesson_env())
    except CellExecutionError as err:
        failed = next((c for c in nb.cells if c.cell_type == "code"
                       and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        source = failed.source if failed is not None else "(cell not found)"
        error = ANSI_COLOUR.sub("", str(err))
        raise AssertionError(f"{path.name}: a cell failed\n--- cell ---\n{source}\n--- error ---\n{error}") from None
    return nb


@pytest.mark.lesson
@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.stem)
def test_lesson_runs(path):
    execute_lesson(path)


def test_lessons_are_found_and_stored_without_outputs():
    """Every numbered lesson is found, and no stored notebook carries outputs."""
    paths = lesson_paths()
    assert len(paths) >= 7, [p.name for p in paths]
    for path in paths:
        nb = read_lesson(path)
        assert nb.cells, f"{path.name} has no cells"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs"), f"{path.name} is stored with outputs"


@pytest.mark.parametrize("path", [p for p in lesson_paths() if p.suffix == ".py"], ids=lambda p: p.stem)
def test_lesson_source_is_what_jupyter_saves(path):
    """Opening a lesson in Jupyter and saving it changes nothing but jupytext's version lines."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:\n"), f"{path.name}: missing the jupytext header"
    saved = jupytext.writes(jupytext.read(path), "py:percent")
    saved = re.sub(r"#       (format_version|jupytext_version): .*\n", "", saved)
    assert saved == text, f"{path.name}: not in canonical percent format (run it through jupytext)"
