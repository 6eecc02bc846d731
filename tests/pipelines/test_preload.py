"""The runner's preload (:func:`pipelines.preload.preload`): modules are imported one after
another on a daemon thread, and one that fails to import is passed over without a
traceback (the import where it is used raises) while the next is still imported."""

import os
import subprocess
import sys
import threading

import pyarrow.parquet as pq

from pipelines.preload import preload
from support.pipelines import LOCAL_YAML
from support.synth import Shot, shots_video

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_preload_imports_on_a_thread_and_passes_over_a_broken_module(tmp_path, monkeypatch):
    order = tmp_path / "order.txt"
    for name in ("preload_first_mod", "preload_ok_mod"):
        (tmp_path / f"{name}.py").write_text(
            "import threading\nTHREAD = threading.current_thread().name\n"
            f"open({str(order)!r}, 'a').write({name!r} + '\\n')\n")
    (tmp_path / "preload_bad_mod.py").write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    for name in ("preload_first_mod", "preload_ok_mod", "preload_bad_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    thread = preload("preload_first_mod", "preload_bad_mod", "preload_ok_mod")
    thread.join(30)
    assert not thread.is_alive() and thread.daemon
    for name in ("preload_first_mod", "preload_ok_mod"):
        assert sys.modules[name].THREAD == "vidcurate-preload"  # imported there, not here
    assert order.read_text().split() == ["preload_first_mod", "preload_ok_mod"]  # in order, past the broken one
    assert "preload_bad_mod" not in sys.modules
    assert uncaught == []


def test_a_run_whose_pandas_fails_slowly_writes_its_index(tmp_path):
    """A pandas that fails to import after a few seconds (a broken install): the run's
    preload thread is still importing it when the run's end builds its first table (pyarrow
    imports pandas then). The run joins its preload threads first, so pyarrow sees the
    ImportError and goes on without pandas: exit 0 with the index (a break test: the
    half-made module had become an internal error, AttributeError, at the index's write)."""
    fake = tmp_path / "fake" / "pandas"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import time\ntime.sleep(3)\nraise ImportError('a broken pandas (test)')\n")
    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(31, 40)], 160, 120)
    out = tmp_path / "out"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(tmp_path / "fake"))
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", str(src),
                          "--output", str(out), "--quiet"], capture_output=True, text=True, env=env, timeout=600,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "internal error" not in res.stderr
    assert [r["source"]["path"] for r in pq.read_table(out / "index.parquet").to_pylist()] == [str(src / "a.mp4")]
