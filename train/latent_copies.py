"""``vidcurate latents``' writer: copies of shards with a latents member per sample
(:mod:`train.latent_shards` has the format and the reader).

One run per output (the command holds ``latents.lock``). Each copy is written to a
temporary name and renamed when complete; ``OUTPUT/latents.json`` then records which input
it copies (its real path, size and modification time), with the latents record and the
copy's size, so a rerun keeps the copies an
earlier run finished from the same input with the same latents and makes the rest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import webdataset as wds
from pydantic import ValidationError

from train.config import TrainConfig
from train.latent_shards import LATENTS_EXT, encode_sample, latent_meta
from train.latents import LatentCodec
from train.shardlist import _is_remote, _local, expand_shards
from train.shards import SkipStats, iter_samples
from train.video_io import DecodeError

SOURCES = "latents.json"  # in OUTPUT: {copy's file name: its input's identity}


def _targets(urls: list[str], folder: Path) -> list[Path]:
    """The output path of each input shard: ``folder/<its file name>``. Raises
    FileExistsError when one would overwrite an input shard (``--output`` is the input's
    run folder) or two inputs share a name (shards of two runs)."""
    targets = [folder / Path(url.split("://")[-1]).name for url in urls]
    inputs = {os.path.realpath(_local(u)) for u in urls if not _is_remote(u)}
    for url, target in zip(urls, targets):
        if os.path.realpath(target) in inputs:
            raise FileExistsError(f"{target} would overwrite the input shard {url}; give another --output")
    names = [t.name for t in targets]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise FileExistsError(f"input shards share the names {twice[:3]}: their copies would overwrite "
                              "each other in one --output; write each run's latents to its own folder")
    return targets


def check_output(shards, output: str | Path) -> None:
    """Raise what :func:`write_latent_shards` would raise for ``shards`` and ``output``
    before any VAE is loaded: FileNotFoundError for shards that are not there,
    FileExistsError (:func:`_targets`) for an output that would overwrite an input (a
    new-user trial: that line came only after the VAE's download had failed)."""
    _targets(expand_shards(shards), Path(output) / "shards")


def _identity(url: str) -> dict | None:
    """What a local input shard is now: its real path, size and modification time (ns);
    None for a remote one (its change would go unseen) or one that cannot be read."""
    if _is_remote(url):
        return None
    try:
        st = os.stat(_local(url))
    except OSError:
        return None
    return {"input": os.path.realpath(_local(url)), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _sources(output: Path) -> dict:
    """``OUTPUT/latents.json``: each finished copy's input identity ({} when absent or unreadable)."""
    try:
        data = json.loads((output / SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(output: Path, sources: dict) -> None:
    """Write ``OUTPUT/latents.json`` whole (a temporary file renamed over it)."""
    tmp = output / (SOURCES + ".tmp")
    tmp.write_text(json.dumps(sources, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, output / SOURCES)


def _finished(url: str, target: Path, meta: dict[str, str], made: dict | None) -> bool:
    """Whether ``target`` is a copy an earlier run finished of the input shard ``url`` as it
    is now with these latents: ``made``, its entry in ``latents.json``, names the same real
    path, size and modification time of the input (not another run's shard of the same
    name), the same latents record (``meta``, :func:`latent_meta` and the dtype) and the
    copy's own size. Decided from that entry and two ``stat`` calls: no copy is read again.
    A remote input is never taken as finished."""
    now = _identity(url)
    if now is None or not made or not target.is_file():
        return False
    return made == {**now, "meta": meta, "copy_size": target.stat().st_size}


def write_latent_shards(shards, output: str | Path, cfg: TrainConfig, codec: LatentCodec,
                        device: torch.device) -> dict[str, int]:
    """Copy every shard of ``shards`` to ``<output>/shards/<name>`` with a latents member
    per sample; samples whose record or mp4 is bad, or that lack a member, are left out and
    counted, and so are input shards that are truncated or corrupt (as the trainer's reader
    judges them: :func:`train.shards.iter_samples`); a shard with no sample copied gives no
    copy (and an earlier run's copy of it there is removed: the trainer had read it on). A
    copy an earlier run finished from the same input with these latents is kept, not
    encoded again (:func:`_finished`, ``OUTPUT/latents.json``). Each copy is written to a temporary name (one a run killed left
    is removed) and renamed when complete. Returns counts {"shards", "samples", "kept",
    "skipped", "bad_shards"}. Raises FileExistsError (:func:`_targets`) before writing
    anything."""
    folder = Path(output) / "shards"
    urls = expand_shards(shards)
    targets = _targets(urls, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.tar.tmp"):  # the caller holds the output's lock: a killed run's
        stale.unlink(missing_ok=True)
    meta = {**latent_meta(cfg, codec), "dtype": cfg.vae.store_dtype}  # (the dtype: a review)
    sources = _sources(Path(output))
    counts = {"shards": 0, "samples": 0, "kept": 0, "skipped": 0, "bad_shards": 0}
    for url, target in zip(urls, targets):
        if _finished(url, target, meta, sources.get(target.name)):
            counts["kept"] += 1
            continue
        if sources.pop(target.name, None) is not None:  # made again (or not at all): no longer finished
            _record(Path(output), sources)
        stats, written = SkipStats(), 0
        tmp = target.with_name(target.name + ".tmp")
        try:
            with wds.TarWriter(str(tmp)) as sink:
                for sample in iter_samples(url, stats):
                    try:
                        member = encode_sample(sample, cfg, codec, device)
                    except (ValidationError, DecodeError) as err:
                        stats.record("bad_sample", f"{url}:{sample['__key__']}: {err}")
                        continue
                    sink.write({"__key__": sample["__key__"], "mp4": sample["mp4"],
                                "json": sample["json"], "txt": sample["txt"], LATENTS_EXT: member})
                    written += 1
            counts["bad_shards"] += len(stats.bad_shards)
            counts["skipped"] += sum(n for kind, n in stats.counts.items() if kind != "shard")
            if written:
                os.replace(tmp, target)
                counts["shards"] += 1
                counts["samples"] += written
                if (made := _identity(url)) is not None:
                    sources[target.name] = {**made, "meta": meta, "copy_size": target.stat().st_size}
                    _record(Path(output), sources)
            else:
                target.unlink(missing_ok=True)
        finally:
            tmp.unlink(missing_ok=True)
    return counts
