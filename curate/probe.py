"""Probe stage: fingerprint the source and read its container facts (PyAV)."""

from __future__ import annotations

import errno
import os
import time
from typing import Literal

from pydantic import Field

from curate.codec import CodecError, probe
from curate.codec.colour import is_hdr
from curate.ids import source_fingerprint
from curate.guard import Limits
from curate.stage import RejectError, Stage, reject_for
from curate.tasks import SourceTask
from schemas import SourceInfo


class ProbeStage(Stage):
    """Fill ``task.source`` (:class:`schemas.SourceInfo`) or reject the source.

    Config: ``min_duration_s`` (shorter sources are ``too_short``) and
    ``max_duration_s`` (longer ones are ``too_long``; None = no limit), in seconds.
    Rejects: ``not_found`` (missing, a folder, a symlink loop, a name too long; the next run looks again),
    ``no_video_stream``, ``unsupported_codec``, ``truncated``,
    ``decode_error`` (see :func:`curate.codec.probe.probe`), ``hdr_unsupported`` (PQ or
    HLG transfer: :mod:`curate.codec.colour`).
    """

    name = "probe"
    stage: Literal["probe"] = "probe"
    limits: Limits | None = Field(default_factory=lambda: Limits(timeout_s=120))
    min_duration_s: float = Field(0.5, ge=0)
    max_duration_s: float | None = Field(None, gt=0)

    def process(self, task: SourceTask) -> SourceTask:
        try:
            fingerprint = source_fingerprint(task.path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:  # missing, a folder
            raise RejectError("not_found", f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENAMETOOLONG):  # no permission, a store that refuses (403) or cannot be
                raise  # reached: stage_error, redone by the next run (docs/cluster.md)
            raise RejectError("not_found", f"{type(exc).__name__}: {exc}") from exc
        try:
            return self._judge(task, fingerprint)
        except (RejectError, CodecError) as exc:  # a verdict on the file's bytes: its row carries their id
            reject_for(task, self.name, exc)  # (here, where the fingerprint is: a sandbox child's stays there)
            for row in task.rejects:
                row.source_id = row.source_id or fingerprint
            return task

    def _judge(self, task: SourceTask, fingerprint: str) -> SourceTask:
        """The probe of a file whose bytes could be read (:meth:`process`): ``task.source``,
        or a :class:`RejectError` / :class:`CodecError` with the verdict."""
        size = _size(task.path)
        if size == 0:  # its decode_error named no file: '<none>' for a store URL (break test)
            raise RejectError("truncated", "the file is empty (0 bytes)" + _still_written(task.path))
        try:
            p = probe(task.path)
        except CodecError as exc:
            if exc.reason not in ("truncated", "decode_error") or not (hint := _still_written(task.path)):
                raise
            raise CodecError(exc.reason, exc.detail + hint) from exc
        task.source = SourceInfo(
            path=task.path, source_id=fingerprint, size_bytes=size,
            duration_s=round(p.duration_s, 6), fps=round(p.fps, 6), vfr=p.vfr,
            num_frames=p.num_frames, width=p.width, height=p.height, rotation=p.rotation, hflip=p.hflip,
            codec=p.codec, pix_fmt=p.pix_fmt, has_audio=p.has_audio,
            stream_index=p.stream_index, probed_frames=p.num_frames,
            sar=p.sar, color_range=p.color_range, color_primaries=p.color_primaries,
            color_transfer=p.color_transfer, field_order=p.field_order,
        )
        if is_hdr(p.color_transfer):
            raise RejectError("hdr_unsupported", f"transfer {p.color_transfer}, primaries "
                              f"{p.color_primaries}: no tone mapping in this build")
        if p.duration_s < self.min_duration_s:
            claim = _claim(task.path, p.stream_index, p.duration_s)
            if claim is not None and claim.seconds and claim.seconds >= self.min_duration_s:  # a long file cut short
                raise RejectError("truncated", f"the file is cut short: {p.duration_s:.3f} s decode; "
                                  f"{claim.said}")
            raise RejectError("too_short", f"{p.duration_s:.3f} s < {self.min_duration_s} s")
        if self.max_duration_s is not None and p.duration_s > self.max_duration_s:
            raise RejectError("too_long", f"{p.duration_s:.1f} s > {self.max_duration_s} s")
        return task


RECENT_S = 30.0  # seconds: a damaged file written this recently may be a copy still under way


def _still_written(path: str) -> str:
    """A hint for the reject row of a local file cut short or unreadable that was modified
    in the last :data:`RECENT_S` seconds (a copy still under way, whose probe fell in a
    pause between writes: a break test read it as ``truncated``), else ``""``."""
    if "://" in path:
        return ""
    try:
        age = time.time() - os.path.getmtime(path)
    except OSError:
        return ""
    if not 0 <= age < RECENT_S:
        return ""
    return f" (the file was written {age:.0f} s ago: if it is still being copied, run again once it is complete)"


def _size(path: str) -> int:
    """Bytes of the source at ``path`` (a local path or a store URL, taken as named:
    ``get_fs_token_paths`` had expanded ``*`` and ``[`` in an S3 key as a pattern)."""
    if "://" not in path:
        return os.path.getsize(path)
    from curate import store

    fs, where = store.filesystem(path)
    return int(fs.size(where))


def _claim(path: str, stream_index: int, held_s: float):
    """:func:`curate.codec.probe.index_claim` (``held_s``: the probed seconds), None when the file cannot say."""
    from curate.codec.errors import CodecError
    from curate.codec.probe import index_claim

    try:
        return index_claim(path, stream_index, held_s)
    except CodecError:
        return None
