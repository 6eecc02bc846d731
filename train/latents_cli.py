"""The ``latents`` command: copies of a run's shards with precomputed VAE latents
(:mod:`train.latent_shards`), one process per ``--output`` (``latents.lock``).

Everything a user can get wrong is said before the VAE loads, in one line and exit 2: a
config without a ``vae`` section, shards that are not there, an ``--output`` that would
overwrite them or is a store URL (copies are written to a local folder), a ``--device``
that torch does not know or this machine does not have; a frame size the VAE cannot
encode is said once it has loaded. A Ctrl-C (130) or SIGTERM (143) stops after removing the
shard copy in hand; the copies finished by then are kept and the same command does not
encode them again where their input is a local shard that has not changed
(:func:`train.latent_copies.write_latent_shards`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from train.config import ConfigError, load_config
from train.lockfile import lock_output, unlock_output

LOCK = "latents.lock"
STOPPED = ("the shard copies finished so far are kept; the same command copies the rest "
           "(finished copies of local shards are not encoded again)")


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops as after a Ctrl-C, with exit code 143."""


def pick_device(text: str | None):
    """The torch device of ``--device`` (default: the first CUDA GPU when there is one, else
    the CPU). Raises ConfigError for a name torch does not know (``bogus``) or a device this
    machine does not have (``cuda`` without a GPU, ``cuda:3`` with two, ``mps`` off a Mac):
    each had been an internal error (a break test)."""
    import torch

    if text is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ConfigError(f"--device {text!r} is no torch device (cpu, cuda, cuda:N, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {text}: torch sees no CUDA GPU on this machine (give --device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {text}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {text}: Metal (mps) is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {text}: use cpu, cuda, cuda:N or mps")
    return device


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def latents_command(args: argparse.Namespace) -> int:
    """Write copies of the shards with VAE latents (module docstring); 0 on success, 2 on a
    config or input error (message on stderr), 3 when another ``latents`` run writes to
    the output, 4 when no sample could be written, 130 or 143 when stopped. SIGTERM is
    taken from the start to the summary's line (a review: one at start-up had ended the
    command without a word, one after the work with 143 after the success line)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return _latents(args)
    except KeyboardInterrupt as stop:
        term = isinstance(stop, _Terminated)
        print(f"{'terminated (SIGTERM)' if term else 'interrupted'}: {STOPPED}", file=sys.stderr)
        return 143 if term else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _latents(args: argparse.Namespace) -> int:
    """:func:`latents_command` without its signal handling."""
    from train.latent_copies import check_output, write_latent_shards
    from train.latents import LatentCodec

    if "://" in args.output:  # (s3:// had been an internal error, leaving a local folder 's3:')
        print(f"latents: --output {args.output}: give a local folder (copy the shards to the store "
              "afterwards); train reads them from there", file=sys.stderr)
        return 2
    if os.path.lexists(args.output) and not os.path.isdir(args.output):  # (an internal error, a review)
        print(f"latents: --output {args.output} is a file or a link to nothing; name a folder", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)
        if cfg.vae is None:
            raise ConfigError(f"config {args.config} has no vae section")
        check_output(args.shards, args.output)  # before the VAE loads (a download, minutes)
        device = pick_device(args.device)
    except (ConfigError, FileNotFoundError, FileExistsError) as err:
        print(f"latents: {err}", file=sys.stderr)
        return 2
    made = not os.path.exists(args.output)
    try:
        lock = lock_output(args.output, LOCK)
    except OSError as err:  # a folder that cannot be made or written (read-only, no permission)
        print(f"latents: --output {args.output}: {err.strerror or err}", file=sys.stderr)
        return 2
    if lock is None:
        print(f"latents: {args.output} is in use by another latents run ({LOCK}); wait for it, or give "
              "another --output", file=sys.stderr)
        return 3
    try:
        codec = LatentCodec.from_config(cfg.vae).to(device)
        d = cfg.data
        if d.height % codec.factor or d.width % codec.factor:  # (an internal error, a break test)
            raise ConfigError(f"data.height and data.width ({d.height}x{d.width}) must be multiples of "
                              f"the VAE's downsampling factor {codec.factor}")
        counts = write_latent_shards(args.shards, args.output, cfg, codec, device)
    except (ConfigError, FileNotFoundError, FileExistsError) as err:
        print(f"latents: {err}", file=sys.stderr)
        return 2
    finally:
        unlock_output(lock, args.output, made)
    kept = f", {counts['kept']} finished by an earlier run kept" if counts["kept"] else ""
    print(f"wrote {counts['samples']} samples with latents in {counts['shards']} shards to "
          f"{args.output}/shards{kept} ({counts['skipped']} bad or incomplete samples and "
          f"{counts['bad_shards']} truncated or corrupt input shards left out)")
    return 0 if counts["samples"] or counts["kept"] else 4  # nothing written is not success
