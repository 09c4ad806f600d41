"""The notebooks of notebooks/: stored without outputs, and each executes top to bottom.

They run on smoke settings (PTCE_NOTEBOOK_SIZE=smoke: the tiny territory, a few
replicates), in a Jupyter kernel started from the interpreter running the tests (a
kernelspec written to a temporary JUPYTER_PATH), so they see exactly the installed package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_quickstart.ipynb", "02_regime_comparison.ipynb", "03_cooperation_network.ipynb", "04_resilience.ipynb")
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
KERNEL = "ptce-sim-test"
CELL_TIMEOUT_S = 900  # generous: a slow shared machine must not fail the test


def test_the_four_notebooks_are_there():
    assert set(EXPECTED) <= set(ALL), f"missing: {sorted(set(EXPECTED) - set(ALL))}"


@pytest.mark.parametrize("name", ALL)
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{name}: cells {dirty} are stored with outputs or execution counts (clear them before committing)"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec whose kernel is this interpreter, on a JUPYTER_PATH of its own."""
    path = tmp_path_factory.mktemp("jupyter")
    spec = path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "PTCE-sim tests", "language": "python",
    }))
    return path


@pytest.mark.parametrize("name", ALL)
def test_executes_top_to_bottom(name, kernel_env, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("PTCE_NOTEBOOK_SIZE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError, with the cell and the traceback, if a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, f"{name}: executed but showed nothing"
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{name}: no chart was drawn"
    warnings = [o["text"] for o in outputs if o.get("name") == "stderr" and "Warning" in o["text"]]
    assert not warnings, f"{name}: warnings while executing:\n" + "\n".join(warnings)
