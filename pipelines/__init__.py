"""Composition and execution: pipeline files, their validation, the Ray runner, the CLI.

The only package that imports Ray. Embedding use::

    from pipelines import load_pipeline, run_pipeline
    summary = run_pipeline(load_pipeline("pipelines/local.yaml"), ["videos/"], "out/")
"""

from pipelines.config import Pipeline, PipelineError, load_pipeline, parse_pipeline


def run_pipeline(*args, **kwargs):
    """See :func:`pipelines.runner.run_pipeline` (imported lazily: it starts Ray)."""
    from pipelines.runner import run_pipeline as _run

    return _run(*args, **kwargs)


__all__ = ["Pipeline", "PipelineError", "load_pipeline", "parse_pipeline", "run_pipeline"]
