"""Write a lesson notebook from a list of cells, without outputs.

Each lesson script lists its cells as ``md(...)`` and ``code(...)`` and calls
``write(path, cells)``. Cell ids are numbered, so building twice gives the
same file and ``git diff`` only shows real edits.
"""
import textwrap

import nbformat


def md(text):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip())


def code(text):
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip())


def write(path, cells):
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    with open(path, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    print(f"wrote {path} ({len(cells)} cells)")
