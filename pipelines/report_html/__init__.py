"""A run's report and the commands that read its output: ``report.html``, ``stats``, ``inspect``.

Every run ends by writing ``report.html`` beside ``manifest.json`` (:func:`write_report`);
``vidcurate report OUTPUT`` rebuilds it from a folder or store URL. Modules:
:mod:`~pipelines.report_html.data` (the output read back: funnel, thresholds,
quantiles), :mod:`~pipelines.report_html.plots` (matplotlib charts as inline SVG),
:mod:`~pipelines.report_html.tiles` and :mod:`~pipelines.report_html.thumbs` (sampled
thumbnail tiles), :mod:`~pipelines.report_html.page` (the Jinja2 page),
:mod:`~pipelines.report_html.stats`, :mod:`~pipelines.report_html.inspect` and
:mod:`~pipelines.report_html.commands` (the CLI subcommands).
"""

from __future__ import annotations


def write_report(output: str, **kwargs) -> str:
    """See :func:`pipelines.report_html.page.write_report` (imported lazily: matplotlib)."""
    from pipelines.report_html.page import write_report as _write

    return _write(output, **kwargs)


def write_report_safely(output: str, **kwargs) -> str | None:
    """:func:`write_report` at the end of a run: a report that fails (a bug, a store
    error) costs a warning on stderr, not the finished run; returns the location or None.
    A Ctrl-C or SIGTERM that a library turned into another error while the page was made
    (a break test: matplotlib's "Invalid affine transformation matrix", and the run went
    on to exit 0 without its page) is raised as the interrupt it was
    (:func:`pipelines.exits.raise_if_swallowed`)."""
    import sys
    import traceback

    from pipelines.exits import one_line, raise_if_swallowed

    try:
        return write_report(output, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the curated output is complete without the page
        raise_if_swallowed()
        last = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"warning: report.html not written ({one_line(exc)}, at {last.filename}:"
              f"{last.lineno}); rebuild it with: vidcurate report {output}", file=sys.stderr)
        return None


__all__ = ["write_report", "write_report_safely"]
