"""The ``report``, ``stats`` and ``inspect`` subcommands of ``vidcurate``.

    vidcurate report OUTPUT                    rebuild OUTPUT/report.html (folder or store URL)
    vidcurate stats OUTPUT [--json]            funnel and score quantiles
    vidcurate inspect SHARDS [--key K] [--sample N] [--seed S] [--json] [--contact-sheet PNG]

A missing output or shard path is a usage error (exit code 2, :mod:`pipelines.exits`).
Heavy imports (matplotlib, PyAV) happen inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.exits import InputNotFound, UsageError


def _cmd_report(args: argparse.Namespace) -> int:
    from pipelines.report_html.page import write_report

    try:
        location = write_report(args.output)
    except FileNotFoundError as exc:
        raise InputNotFound(str(exc)) from None
    print(location)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from pipelines.report_html.data import load_run
    from pipelines.report_html.stats import print_stats

    try:
        run = load_run(args.output)
    except FileNotFoundError as exc:
        raise InputNotFound(str(exc)) from None
    print_stats(run, as_json=args.json)
    return 0


def _positive(text: str) -> int:
    """``--sample``'s value: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _cmd_inspect(args: argparse.Namespace) -> int:
    from pipelines.report_html import inspect

    if args.contact_sheet:  # a typo in the sheet's folder: said before the samples are read and printed
        folder = os.path.dirname(os.path.abspath(args.contact_sheet))
        if not os.path.isdir(folder):
            raise UsageError(f"--contact-sheet {args.contact_sheet}: no such folder {folder}")
        if os.path.isdir(args.contact_sheet):
            raise UsageError(f"--contact-sheet {args.contact_sheet}: is a folder; name the image "
                             "file to write (.png, or .jpg for JPEG)")
        try:
            inspect.sheet_format(args.contact_sheet)
        except ValueError as exc:
            raise UsageError(f"--contact-sheet {args.contact_sheet}: {exc}") from None
    from train.shards import SkipStats

    skipped = SkipStats()
    try:  # one more than shown by default: whether more follow is said
        chosen = inspect.select(args.shards, key=args.key, sample=args.sample, seed=args.seed,
                                limit=inspect.DEFAULT_LIMIT + 1, stats=skipped)
    except FileNotFoundError as exc:
        raise InputNotFound(str(exc)) from None
    except inspect.DamagedSample as exc:
        raise UsageError(str(exc)) from None
    if args.key is not None and not chosen:
        raise InputNotFound(f"no sample with key {args.key!r} in {args.shards}")
    if not chosen:  # e.g. every shard damaged: a warning each, and nothing shown is no success
        why = ("damaged shards and samples are skipped, each with a warning above" if sum(skipped.counts.values())
               else "a sample is a clip's .mp4, .json and .txt; these shards hold none")  # (an empty tar)
        raise InputNotFound(f"no complete sample in {args.shards} ({why})")
    more = args.key is None and args.sample is None and len(chosen) > inspect.DEFAULT_LIMIT
    chosen = chosen[:inspect.DEFAULT_LIMIT] if more else chosen
    for s in chosen:
        print(inspect.record_json(s) if args.json else "\n".join(inspect.describe(s)))
    if args.contact_sheet:
        w, h = inspect.contact_sheet(chosen, args.contact_sheet)
        clips = f"{len(chosen)} clip{'s' if len(chosen) != 1 else ''}"
        # on stderr under --json: stdout stays one JSON object per line
        print(f"contact sheet: {args.contact_sheet} ({clips}, {w}x{h} px)", file=sys.stderr if args.json else sys.stdout)
    if more:  # on stderr: under --json stdout stays one JSON object per line
        print(f"(the first {inspect.DEFAULT_LIMIT} samples; more follow: --sample N draws N at random, "
              "--key K shows one)", file=sys.stderr)
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``report``, ``stats`` and ``inspect`` to the ``vidcurate`` parser's subparsers."""
    report = sub.add_parser("report", help="rebuild report.html of a run's output")
    report.add_argument("output", help="output folder or store URL of a finished run")
    report.set_defaults(func=_cmd_report, interrupted="interrupted: report.html is not rebuilt "
                        "(one already there is left as it was)")
    stats = sub.add_parser("stats", help="print a run's funnel and score quantiles")
    stats.add_argument("output", help="output folder or store URL of a finished run")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.set_defaults(func=_cmd_stats, interrupted="interrupted")
    ins = sub.add_parser("inspect", help="print shard samples' records and captions")
    ins.add_argument("shards", help="output folder, shard tar, glob, brace range or URL")
    which = ins.add_mutually_exclusive_group()  # --key with --sample had ignored --sample
    which.add_argument("--key", default=None, help="only the sample with this key (clip id)")
    which.add_argument("--sample", type=_positive, default=None, metavar="N",
                     help="N samples drawn at random (reads every shard; default: the first 10)")
    ins.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    ins.add_argument("--json", action="store_true", help="one JSON line per sample")
    ins.add_argument("--contact-sheet", default=None, metavar="PNG",
                     help="also write a picture of 3 frames per sample with its key and caption "
                          "(its type by the name: .png, .jpg, .webp; PNG without one)")
    ins.set_defaults(func=_cmd_inspect, interrupted="interrupted")
