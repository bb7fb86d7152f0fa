"""examples/quickstart.ipynb runs top to bottom in a fresh kernel.

The notebook is executed with nbclient and ipykernel (the ``test`` extra
installs them, with matplotlib) in a temporary working directory that holds
only ``make_tiny_llama.py``, as Jupyter would start it in ``examples/``; it
builds the demo model, converts it and plots. The test skips only when those
packages are absent. The notebook is kept in git without outputs.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _read():
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_without_outputs():
    nb = _read()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {i} has outputs: strip them before committing"


@pytest.mark.slow
def test_notebook_runs(tmp_path, monkeypatch):
    nb = _read()
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "make_tiny_llama.py", work)
    # Jupyter, IPython and matplotlib keep state under $HOME: keep it in the temporary directory
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if o.output_type in ("execute_result", "display_data")
            and "text/html" in o.data]
    assert any("blk.0.ffn_down.weight" in h and "<table>" in h and "SNR dB" in h for h in html), \
        "the report did not render as HTML"
    assert any("<details>" in h and "tokenizer.ggml.pre" in h and "blk.0.ffn_down.weight" in h for h in html), \
        "the plan did not render as HTML"
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 3, f"expected the three figures (report.plot, plot_tradeoff, histograms), got {len(images)}"
    for target in ("Q4_K_M", "Q8_0", "Q2_K"):
        assert (work / f"tiny-llama-{target}.gguf").stat().st_size > 0
