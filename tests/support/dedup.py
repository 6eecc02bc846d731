"""Clip records and hashes with known Hamming distances, for the dedup tests."""

from __future__ import annotations

import numpy as np

from schemas import ClipRecord, ClipVideo, SourceInfo, Span


def clip_record(cid: str, phash: str, width: int = 320, height: int = 240, dur: float = 2.0,
                path: str = "a.mp4", start: float = 0.0) -> ClipRecord:
    """A record with the given hash and the fields the keep rule reads (resolution,
    duration in seconds, source path, start time)."""
    src = SourceInfo(path=path, source_id="s", size_bytes=1, duration_s=10, fps=25, num_frames=250,
                     width=width, height=height, codec="h264")
    return ClipRecord(clip_id=cid, source=src, span=Span(shot_index=0, start_frame=0, end_frame=50,
                      start_s=start, end_s=start + dur), phash=phash,
                      clip=ClipVideo(num_frames=50, fps=25, width=width, height=height, duration_s=dur))


def flip(h: str, bits) -> str:
    """Hex hash ``h`` with the given bit positions (0 = most significant) flipped: exactly
    ``len(set(bits))`` bits away from ``h``."""
    v = np.unpackbits(np.frombuffer(bytes.fromhex(h), dtype=np.uint8))
    v[list(bits)] ^= 1
    return np.packbits(v).tobytes().hex()


def random_hashes(n: int, seed: int = 0, nbytes: int = 128) -> list[str]:
    """``n`` unrelated random hex hashes of ``nbytes`` bytes (about half their bits apart)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes().hex() for _ in range(n)]
