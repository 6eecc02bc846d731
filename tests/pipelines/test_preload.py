"""The runner's preload (:func:`pipelines.runner.preload`): a module is imported on a
daemon thread, and one that fails to import is passed over without a traceback (the
import where it is used raises)."""

import sys
import threading

from pipelines.runner import preload


def test_preload_imports_on_a_thread_and_passes_over_a_broken_module(tmp_path, monkeypatch):
    (tmp_path / "preload_ok_mod.py").write_text("import threading\nTHREAD = threading.current_thread().name\n")
    (tmp_path / "preload_bad_mod.py").write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    for name in ("preload_ok_mod", "preload_bad_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    bad, ok = preload("preload_bad_mod"), preload("preload_ok_mod")
    for thread in (bad, ok):
        thread.join(30)
        assert not thread.is_alive() and thread.daemon
    assert sys.modules["preload_ok_mod"].THREAD == "vidcurate-preload"  # imported there, not here
    assert "preload_bad_mod" not in sys.modules
    assert uncaught == []
