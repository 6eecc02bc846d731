"""The runner's preload (:func:`pipelines.runner.preload`): modules are imported one after
another on a daemon thread, and one that fails to import is passed over without a
traceback (the import where it is used raises) while the next is still imported."""

import sys
import threading

from pipelines.runner import preload


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
