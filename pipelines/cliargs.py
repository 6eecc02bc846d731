"""Argument types and parse-error help of ``vidcurate run``.

``--input``, ``--input-list`` and ``--dedup-against`` take several values, so a pipeline
named after them (``vidcurate run --input clips/ local``) is read as one more value and
argparse says only "the following arguments are required: pipeline", though one was
typed (a new-user trial). :class:`Parser` adds where it went and the order to use.
"""

from __future__ import annotations

import argparse
import os

from pipelines import exits

SHIPPED = ("local", "gpu")  # the pipelines shipped in pipelines/ (pipelines.config.load_pipeline)
_MANY = ("--input", "--input-list", "--dedup-against")  # options taking several values


def seconds(text: str) -> float:
    """``--connect-timeout``'s value: seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def output(text: str) -> str:
    """``--output``'s value: a folder or URL, not empty (``--output "$OUT"`` with ``OUT``
    unset had written the run into the current folder; a break test)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(exits.EMPTY_OUTPUT)
    return text


def late_pipeline(argv: list[str]) -> str | None:
    """A value of ``--input``, ``--input-list`` or ``--dedup-against`` in ``argv`` that names
    a pipeline (a shipped name that is no path here, or a ``.yaml``/``.yml`` file), or None."""
    many = False
    for arg in argv:
        if arg.startswith("-"):
            many = arg.split("=", 1)[0] in _MANY
        elif many and ((arg in SHIPPED and not os.path.exists(arg)) or arg.lower().endswith((".yaml", ".yml"))):
            return arg
    return None


class Parser(argparse.ArgumentParser):
    """The parser of each ``vidcurate`` command: a missing pipeline that was typed after an
    option of several values is said so (module docstring). ``argv``: the command's
    arguments, set before parsing."""

    argv: list[str] = []

    def error(self, message: str):
        """argparse's error (exit 2), with the pipeline's place when it went to another option."""
        if "required: pipeline" in message and (late := late_pipeline(Parser.argv)) is not None:
            message += (f" ({late!r} was read as one more value of the option before it, which takes several:"
                        f" name the pipeline first, {self.prog} {late} --input ...)")
        super().error(message)
