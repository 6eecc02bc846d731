"""Composition and execution: pipeline files, their validation, the Ray runner, the CLI.

The only package that imports Ray. Embedding use::

    from pipelines import load_pipeline, run_pipeline
    summary = run_pipeline(load_pipeline("pipelines/local.yaml"), ["videos/"], "out/")

Names are imported lazily (PEP 562): importing ``pipelines.cli`` must not import
PySceneDetect, which runs ``ffmpeg`` on import, before the command has detached its
stdin from the terminal (:mod:`pipelines.terminal`).
"""

_CONFIG_NAMES = ("Pipeline", "PipelineError", "load_pipeline", "parse_pipeline")


def __getattr__(name: str):
    if name in _CONFIG_NAMES:
        from pipelines import config

        return getattr(config, name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")


def run_pipeline(*args, **kwargs):
    """See :func:`pipelines.runner.run_pipeline` (imported lazily: it starts Ray)."""
    from pipelines.runner import run_pipeline as _run

    return _run(*args, **kwargs)


__all__ = ["Pipeline", "PipelineError", "load_pipeline", "parse_pipeline", "run_pipeline"]
