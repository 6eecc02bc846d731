"""The ``train``, ``sample`` and ``latents`` commands.

``vidcurate`` (``pipelines.cli``) registers them with :func:`add_subcommands`; this
module also runs on its own: ``python -m train.cli train --shards RUN/shards/*.tar
--config tiny --output out/``. Multi-GPU / multi-node: ``torchrun --nproc_per_node G
-m train.cli train ...`` (DDP; see :mod:`train.distributed`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from train.config import MAX_SEED, ConfigError, load_config
from train.latents_cli import STOPPED, latents_command
from train.lockfile import lock_output, unlock_output


INTERRUPTED_TRAINING = ("interrupted: the checkpoints written so far are kept; add --resume to the "
                        "same command to continue from the latest")
INTERRUPTED_EARLY = ("interrupted before the first checkpoint: nothing to resume from; run the same "
                     "command again to start over")  # (the line above had promised checkpoints)


def one_line(err: BaseException) -> str:
    """The cause of ``err`` in one line: for an error re-raised from a DataLoader worker
    (its message holds the worker's traceback) the last line, without the class name."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    if "Original Traceback" in str(err) and lines:
        return lines[-1].split(": ", 1)[-1]
    return lines[0] if lines else type(err).__name__


def _drop_log_at_step_0(trainer, output: str) -> None:
    """A training that failed at once (no trainer, or at step 0) in a folder it made: its
    ``log.jsonl`` alone would keep that folder (removed with the lock), and each retry
    added a "start" line to it (a break test: a store's error, no credentials)."""
    if trainer is None or trainer.step == 0:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(output, "log.jsonl"))


def _stop_between_steps(trainer, world_size: int) -> dict:
    """Make Ctrl-C and SIGTERM stop ``trainer`` after its current step, with a checkpoint of
    it (one process; under DDP the ranks could stop at different steps, so the signal acts
    at once as before). A second signal acts at once. A signal the process ignores (a
    background job of a script ignores Ctrl-C) stays ignored. Returns the previous handlers."""
    import signal
    import threading

    from pipelines.exits import Terminated

    def handler(signum, frame):
        if world_size > 1 or trainer.stop_signal:  # a SIGTERM exits 143 then too (it had exited 130)
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt
        trainer.stop_signal.append(signum)

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)
            if signal.getsignal(sig) is not signal.SIG_IGN}  # a background job's ignored Ctrl-C stays ignored


def train_command(args: argparse.Namespace) -> int:
    """Run training; 0 on success, 2 on a config or input error (message on stderr): a bad
    config, shards that cannot feed training, an unreadable checkpoint, a checkpoint that
    cannot be written (a full disk), a loss that became NaN, or an output folder that
    already holds checkpoints without ``--resume`` (a fresh run there would mix its
    checkpoints with the old run's); 3 when another training writes to the output folder;
    130 (Ctrl-C) or 143 (SIGTERM) after a checkpoint of the last finished step. A resumed
    checkpoint already at or past the last step trains nothing and says so (0)."""
    import signal

    from train import distributed
    from train.checkpoint import CheckpointError, list_checkpoints, remove_partial
    from train.data import DataError, SchemaVersionError
    from train.loop import StopRequested, Trainer, TrainingDiverged

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(f"train: {err}", file=sys.stderr)
        return 2
    if os.path.lexists(args.output) and not os.path.isdir(args.output):
        what = "a file" if os.path.exists(args.output) else "a link to nothing"
        print(f"train: --output {args.output} is {what}; name a folder", file=sys.stderr)
        return 2
    if not args.resume and (old := list_checkpoints(args.output)):
        many = f"{len(old)} checkpoint{'s' if len(old) != 1 else ''}"
        print(f"train: {args.output} already holds {many} (latest {old[-1].name}); add "
              "--resume to continue that run, or give an empty --output", file=sys.stderr)
        return 2
    info = distributed.setup()
    made = not os.path.exists(args.output)
    lock = lock_output(args.output, "train.lock") if info.is_main else None
    if info.is_main and lock is None:
        distributed.cleanup()
        print(f"train: {args.output} is in use by another training (train.lock); wait for it, or give "
              "another --output", file=sys.stderr)
        return 3
    previous, trainer = {}, None
    try:
        if info.is_main:
            remove_partial(args.output)  # half-written checkpoints of a run killed mid-save
        trainer = Trainer(cfg, args.shards, args.output, info)
        previous = _stop_between_steps(trainer, info.world_size)
        if args.resume and not trainer.resume():
            trainer.log({"event": "no checkpoint to resume, starting at step 0"})
            if info.is_main:
                print(f"train: --resume: no checkpoint in {args.output}; starting at step 0", file=sys.stderr)
        stop = args.max_steps or cfg.optim.max_steps
        if trainer.step >= stop:  # the loop would not run: say so instead of "done"
            if info.is_main:
                flag = f"--max-steps {args.max_steps}" if args.max_steps else f"optim.max_steps {stop}"
                print(f"train: nothing to train: the checkpoint is at step {trainer.step}, at or past {flag}; "
                      "raise it to train on", file=sys.stderr)
            return 0
        trainer.fit(args.max_steps)
    except StopRequested as stop:
        term = stop.signum == signal.SIGTERM
        print(f"{'terminated (SIGTERM)' if term else 'interrupted'}: checkpoint of step {stop.step} kept; "
              "add --resume to the same command to continue", file=sys.stderr)
        return 143 if term else 130
    except (ConfigError, FileNotFoundError, PermissionError, SchemaVersionError, DataError, CheckpointError,
            TrainingDiverged) as err:  # (PermissionError: e.g. a remote shard's HTTP 401 or 403)
        print(f"train: {one_line(err)}", file=sys.stderr)
        if made and info.is_main:
            _drop_log_at_step_0(trainer, args.output)
        return 2
    except BaseException as err:  # a store's own error (no credentials, a refused endpoint): said by the command;
        # also the SIGTERM torchrun sends the other ranks when one fails at once (a break test)
        if made and info.is_main:
            _drop_log_at_step_0(trainer, args.output)
        if isinstance(err, KeyboardInterrupt) and info.is_main and not list_checkpoints(args.output):
            args.interrupted = INTERRUPTED_EARLY  # a second Ctrl-C, or one under DDP, before any checkpoint
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        distributed.cleanup()
        if lock is not None:
            unlock_output(lock, args.output, made)
    if info.is_main and (done := list_checkpoints(args.output)):  # what to do next, for a person
        print(f"train: done at step {trainer.step}; latest checkpoint {_saved(done, trainer.saved_step)}; "
              "sample from it with "
              f"vidcurate sample --checkpoint {args.output} --prompt '...' --output sample.mp4", file=sys.stderr)
    return 0


def _saved(found: list, step: int | None):
    """The checkpoint of ``step`` among ``found`` (paths, oldest first), else the newest."""
    return next((p for p in found if p.name == f"ckpt-{step:08d}.pt"), found[-1]) if step is not None else found[-1]


def _sample(args: argparse.Namespace) -> int:
    from train.checkpoint import CheckpointError
    from train.sample import sample_command

    import os

    if os.path.isdir(args.output):
        print(f"sample: --output {args.output} is a folder; name the video file to write (.mp4)", file=sys.stderr)
        return 2
    if os.path.splitext(args.output)[1].lower() not in (".mp4", ".gif"):  # (MP4 bytes had gone under any name)
        print(f"sample: --output {args.output}: name a .mp4 file (H.264), or a .gif", file=sys.stderr)
        return 2
    parent = os.path.dirname(os.path.abspath(args.output))
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)  # the nearest existing folder above it (made when missing)
    if not os.path.isdir(parent):  # checked before sampling, which can take minutes
        print(f"sample: --output {args.output} cannot be written: {parent} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        return sample_command(args)
    except (OSError, CheckpointError, ConfigError) as err:  # (a missing checkpoint; an output that cannot
        # be written; a model that its config's VAE no longer fits)
        print(f"sample: {one_line(err)}", file=sys.stderr)
        return 2


def _at_least(low, kind=int, high=None):
    """An argparse type: ``kind`` of the text, at least ``low`` (and at most ``high``)."""
    def parse(text: str):
        value = kind(text)
        if not value >= low or value == float("inf"):  # NaN compares false: refused too
            raise argparse.ArgumentTypeError(f"must be a finite number of at least {low}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high if kind is int else f'{high:g}'}, got {text}")
        return value
    return parse


MAX_GUIDANCE = 100.0  # classifier-free guidance scales in use are 1-20; 1e39 overflowed float32 to a black video


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``, ``sample`` and ``latents`` on ``subparsers``; each sets
    ``func`` to a callable taking the parsed Namespace and returning an exit code."""
    p = subparsers.add_parser("train", help="fit a video diffusion model on curated shards")
    p.add_argument("--shards", required=True,
                   help="shard path, run folder, glob, brace range or fsspec URL")
    p.add_argument("--config", required=True,
                   help="config YAML path or a shipped name (train/configs: tiny, small, base, latent-small, inflate-sd15, ...)")
    p.add_argument("--output", required=True, help="folder for checkpoints and log.jsonl")
    p.add_argument("--max-steps", type=_at_least(1), default=None,
                   help="stop at this optimiser step (default: optim.max_steps)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.set_defaults(func=train_command, interrupted=INTERRUPTED_TRAINING)

    s = subparsers.add_parser("sample", help="generate a video from a trained checkpoint")
    s.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    s.add_argument("--prompt", required=True)
    s.add_argument("--output", required=True, help="output .mp4 path (a .gif name writes a GIF)")
    s.add_argument("--steps", type=_at_least(1), default=None, help="DDIM steps")
    s.add_argument("--guidance", type=_at_least(0.0, float, MAX_GUIDANCE), default=None,
                   help=f"classifier-free guidance scale (0 to {MAX_GUIDANCE:g})")
    s.add_argument("--seed", type=_at_least(0, int, MAX_SEED), default=0, help=f"0 to {MAX_SEED}")
    s.add_argument("--gif", action="store_true", help="also write OUTPUT with .gif")
    s.set_defaults(func=_sample, interrupted="interrupted: no video written")

    a = subparsers.add_parser("latents", help="copy shards with precomputed VAE latents")
    a.add_argument("--shards", required=True,
                   help="shard path, run folder, glob, brace range or fsspec URL")
    a.add_argument("--config", required=True,
                   help="trainer config with a vae section (its data sizes and fps are used)")
    a.add_argument("--output", required=True, help="folder; shards go to OUTPUT/shards/")
    a.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    a.set_defaults(func=latents_command, interrupted=f"interrupted: {STOPPED}")


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m train.cli`` (what torchrun starts on each rank): the exit
    codes and stop lines of ``vidcurate train`` (a Ctrl-C or SIGTERM under DDP had ended
    each rank in a traceback and exit 1, a break test)."""
    from pipelines.exits import INTERRUPTED, TERMINATED, Terminated, stop_line

    parser = argparse.ArgumentParser(prog="python -m train.cli")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt as stop:  # (a Terminated is one)
        terminated = isinstance(stop, Terminated)
        print(stop_line(args.interrupted, terminated), file=sys.stderr)
        return TERMINATED if terminated else INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
