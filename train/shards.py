"""Shard lists and a safe tar reader for WebDataset shards written by the pipeline.

Shards are untrusted input. The reader only ever *reads bytes* of the ``.mp4``,
``.json`` and ``.txt`` members of a sample (and of ``.latents.safetensors``, which
safetensors parses without pickle); any other member (a pickle, a tensor file,
...) is counted and never read, so nothing in a shard is unpickled.

A shard is skipped with a :class:`SkippedDataWarning` when it is truncated, is not a
tar, or when the files of one sample are not adjacent (webdataset groups members by
consecutive key, so a split sample would silently turn into two broken ones). For
local files the whole tar is checked from its headers before the first sample is
yielded, so a bad local shard yields nothing. A remote (fsspec) shard is streamed and
checked as it is read; it is abandoned at the first defect, after the complete
samples before it were yielded (a stream cut exactly between two members is found
at its end, by the missing end-of-archive blocks).
"""

from __future__ import annotations

import re
import tarfile
import warnings
from collections import Counter
from typing import IO, Iterator

import fsspec

from train.shardlist import _is_remote, _local

SAMPLE_EXTS = ("mp4", "json", "txt")
OPTIONAL_EXTS = ("latents.safetensors",)  # precomputed VAE latents (train.latent_shards)
_KEY_EXT = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


class SkippedDataWarning(UserWarning):
    """Data (a shard, a sample, a clip) was skipped; the message counts how many."""


class SkipStats:
    """Counts skipped data by kind and warns: once per bad shard, and at the 1st, 2nd,
    4th, 8th, ... occurrence for more frequent kinds (samples, clips). While ``muted`` (a
    resumed loader replaying what the run before it read) nothing is counted or warned but
    a bad shard: the counts are of data read since the run started or resumed."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.bad_shards: set[str] = set()
        self.muted = False

    def bad_shard(self, url: str, reason: str) -> None:
        """Count and warn about a bad shard once, also while ``muted`` (later visits skip it
        silently: a shard gone bad before a resume had been dropped without a word, a review)."""
        if url not in self.bad_shards:
            self.bad_shards.add(url)
            self.record("shard", f"{url}: {reason}", always=True)

    def record(self, kind: str, detail: str, always: bool = False) -> None:
        """Count one skipped item of ``kind`` (e.g. ``shard``, ``short_clip``)."""
        if self.muted and not always:  # (always: a bad shard, said once whenever it is met)
            return
        self.counts[kind] += 1
        n = self.counts[kind]
        if always or n & (n - 1) == 0:
            warnings.warn(f"skipped {kind} ({n} so far): {detail}", SkippedDataWarning,
                          stacklevel=2)


def split_name(name: str) -> tuple[str, str]:
    """Member name -> (sample key, extension) by webdataset's rule (first dot of the
    base name). Names without an extension give ("", "")."""
    m = _KEY_EXT.match(name)
    return (m.group(1), m.group(2)) if m else ("", "")


def check_local_tar(path: str) -> str | None:
    """Walk a local tar's headers; return why it must be skipped, or None when sound.

    Detects: not a tar, truncated data or missing end-of-archive blocks, and sample
    files that are not adjacent.
    """
    end, last_key, seen = 0, None, set()
    try:
        with tarfile.open(path, mode="r:") as tf:
            for member in tf:
                end = member.offset_data + -(-member.size // 512) * 512
                key = split_name(member.name)[0] if member.isfile() else None
                if key and key != last_key:
                    if key in seen:
                        return f"files of sample {key!r} are not adjacent"
                    seen.add(key)
                    last_key = key
    except tarfile.TarError as err:
        return f"truncated or corrupt tar: {err}"
    with open(path, "rb") as f:
        f.seek(end)
        tail = f.read(1024)
    if len(tail) < 1024 or tail.strip(b"\0"):
        return "truncated: no end-of-archive blocks after the last member"
    return None


REMOTE_TIMEOUT_S = 60.0
"""Seconds an HTTP(S) shard server may stay silent (to connect, or between two reads)
before the shard is skipped as not answering. aiohttp's own limit is the whole download
(5 minutes), so a server that accepted and never answered had stalled the run that long."""


def _open(url: str) -> IO[bytes]:
    if _is_remote(url):
        kwargs = {}
        if url.split("://", 1)[0].lower() in ("http", "https"):
            import aiohttp  # noqa: PLC0415 - fsspec's HTTP file system needs it; only for HTTP URLs

            limit = aiohttp.ClientTimeout(total=None, sock_connect=REMOTE_TIMEOUT_S, sock_read=REMOTE_TIMEOUT_S)
            kwargs["client_kwargs"] = {"timeout": limit}
        return fsspec.open(url, "rb", **kwargs).open()
    return open(_local(url), "rb")


class _TailReader:
    """A read-through of a byte stream that counts bytes and keeps the last ``keep``,
    so a streamed tar can be checked for its end-of-archive blocks."""

    def __init__(self, raw: IO[bytes], keep: int = 2 * tarfile.RECORDSIZE + 1024):
        self.raw, self.keep, self.pos, self.tail = raw, keep, 0, b""

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.pos += len(data)
        self.tail = (self.tail + data)[-self.keep :]
        return data

    def ends_with_eoa(self, end: int) -> bool:
        """Read to the end; True when the bytes after offset ``end`` (the last
        member's padded end) are at least two zero blocks and nothing else."""
        while self.read(1 << 16):
            pass
        rest = self.tail[max(0, end - (self.pos - len(self.tail))) :]
        return len(rest) >= 1024 and not rest.strip(b"\0")


def _stream_members(tf: tarfile.TarFile, url: str, stats: SkipStats,
                    last: dict) -> Iterator[dict]:
    group: dict = {}
    seen: set[str] = set()
    for member in tf:
        last["end"] = member.offset_data + -(-member.size // 512) * 512
        if not member.isfile():
            continue
        key, ext = split_name(member.name)
        if key != group.get("__key__"):
            if group:
                yield group
            if key in seen:
                stats.bad_shard(url, f"files of sample {key!r} are not adjacent")
                return
            seen.add(key)
            group = {"__key__": key, "__url__": url}
        if ext in SAMPLE_EXTS or ext in OPTIONAL_EXTS:
            group[ext] = tf.extractfile(member).read()
        else:
            stats.counts["ignored_member"] += 1
    if group:
        yield group


def iter_samples(url: str, stats: SkipStats) -> Iterator[dict]:
    """Yield samples ``{"__key__", "__url__", "mp4", "json", "txt"}`` (bytes; plus
    ``latents.safetensors`` where the shard has it) of one shard.

    Incomplete samples (a required member missing) are counted and skipped; bad
    shards are skipped as the module docstring says, and so is a remote shard that is not
    there (404), whose server fails (5xx) or does not answer (:data:`REMOTE_TIMEOUT_S`):
    one of thousands drawn by a resampled stream had ended the training. Other errors
    opening the URL (no permission, no credentials; HTTP 401 and 403 raise
    PermissionError) propagate.
    """
    if url in stats.bad_shards:
        return
    if not _is_remote(url):
        reason = check_local_tar(_local(url))
        if reason:
            stats.bad_shard(url, reason)
            return
    try:
        raw = _open(url)
    except (FileNotFoundError, ConnectionError, TimeoutError) as err:
        status = getattr(err.__cause__, "status", None)  # fsspec's HTTP reads every failure as "not found"
        if status in (401, 403):
            raise PermissionError(f"{url}: HTTP {status} {getattr(err.__cause__, 'message', '')}".strip()) from err
        stats.bad_shard(url, f"cannot be opened ({_why(err)})")
        return
    except OSError as err:
        if type(err).__module__.split(".")[0] != "aiohttp":  # aiohttp's connection errors are OSErrors
            raise
        stats.bad_shard(url, f"cannot be opened ({type(err).__name__}: {err})")
        return
    with raw:
        reader, last = _TailReader(raw), {"end": 0}
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                yield from _complete(_stream_members(tf, url, stats, last), url, stats)
        except (tarfile.TarError, EOFError) as err:
            stats.bad_shard(url, f"truncated or corrupt tar: {err}")
            return
        except Exception as err:  # a download cut short (aiohttp's payload error): the rest is skipped
            if not _is_remote(url) or not (isinstance(err, (ConnectionError, TimeoutError))
                                           or type(err).__module__.split(".")[0] == "aiohttp"):
                raise
            stats.bad_shard(url, f"download cut short ({type(err).__name__}: {str(err).strip()[:200]})")
            return
        # a stream cut exactly between members reads as a clean end to tarfile
        if url not in stats.bad_shards and not reader.ends_with_eoa(last["end"]):
            stats.bad_shard(url, "truncated: no end-of-archive blocks after the last member")


def _why(err: BaseException) -> str:
    """What a failed open says: the HTTP status, the timeout or the connection error under
    fsspec's FileNotFoundError, else the error itself."""
    cause = err.__cause__ if isinstance(err, FileNotFoundError) and err.__cause__ is not None else err
    status = getattr(cause, "status", None)
    if isinstance(status, int):
        return f"HTTP {status} {getattr(cause, 'message', '')}".strip()
    if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
        return f"no answer within {REMOTE_TIMEOUT_S:g} s ({type(cause).__name__})"
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else 'not found'}"


def _complete(samples: Iterator[dict], url: str, stats: SkipStats) -> Iterator[dict]:
    for sample in samples:
        missing = [e for e in SAMPLE_EXTS if e not in sample]
        if missing:
            stats.record("incomplete_sample", f"{url}:{sample['__key__']} lacks {missing}")
            continue
        yield sample
