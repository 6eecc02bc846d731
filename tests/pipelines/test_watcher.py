"""The watcher's line for a driver ended without one (pipelines/watcher.py)."""

import subprocess
import sys

import pytest

SCRIPT = """
import os, sys
from pipelines.watcher import watch_abrupt_end
watch_abrupt_end("ABRUPT END\\n")
print("working", flush=True)
{end}
"""


@pytest.mark.parametrize("end,said", [
    ("os._exit(1)", True),  # Ray's core worker ending the process (a cluster break test: nothing on stderr)
    ("import signal; os.kill(os.getpid(), signal.SIGKILL)", True),
    ("sys.exit(5)", False),  # every exit Python sees says its own line
    ("raise KeyboardInterrupt", False),
    ("pass", False),
])
def test_only_an_exit_python_never_saw_gets_the_line(end, said):
    res = subprocess.run([sys.executable, "-c", SCRIPT.format(end=end)], capture_output=True, text=True,
                         timeout=60)
    assert res.stdout == "working\n"
    assert ("ABRUPT END" in res.stderr) is said, res.stderr
