"""pycontain from a Jupyter kernel: the notebook in docs/ runs cell by cell, its objects
show as HTML tables, and a kernel interrupt stops a long run and cleans it up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]


def test_docs_notebook_runs() -> None:
    nb = nbformat.read(ROOT / "docs" / "notebooks" / "pycontain.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in code)
    shown = [o for c in code for o in c.outputs if o.output_type == "execute_result"]
    html = [o.data["text/html"] for o in shown]
    assert any("pycontain.Process" in h and "memory limit" in h for h in html)
    assert any("pycontain.SandboxResult" in h and "cpu_time" in h for h in html)


def test_kernel_interrupt_stops_a_run_and_cleans_up() -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str, timeout: float = 60) -> dict:
            msg_id = kc.execute(code)
            return kc.get_shell_msg(timeout=timeout) if msg_id else {}

        assert run("import pycontain, threading")["content"]["status"] == "ok"
        # one in a thread (a kernel interrupt reaches the main thread only), one in front
        run("c = pycontain.Container()\n"
            "t = threading.Thread(target=lambda: c.run(['sleep', '60']), daemon=True)\n"
            "t.start()")
        msg_id = kc.execute("pycontain.run(['sleep', '60'])")
        time.sleep(2)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        # the foreground run is gone; the thread's run is listed and killed on request
        r = run("left = pycontain.running(); n = pycontain.kill_all(); "
                "assert [p.args for p in left] == [['sleep', '60']] and n == 1, left\n"
                "t.join(10); c.close(); pycontain.flush_cgroups()\n"
                "assert not t.is_alive() and pycontain.running() == []")
        assert r["content"]["status"] == "ok", r["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
