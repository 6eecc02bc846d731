"""Dedup stage: near-duplicate clips across the whole run, one kept per group.

Two clips are near-duplicates when their clip pHashes (:mod:`curate.phash`) differ in at
most ``max_distance`` of their bits (normalised Hamming distance; 0.05 by default, between
the 1.7% of a rescaled re-encoded copy and the 8.2% of the closest distinct clips
measured on real footage shot in one room). Pairs are found by multi-index hashing
(:mod:`curate.dedup.search`, exact: the same pairs as comparing every pair). Groups are
the connected components of that relation, so a chain of near-duplicates is one group.
Edited copies (crops, off-centre crops, pads, brightness, time shifts, speed changes,
left-right flips, quarter turns, reframes) are found as well when
records carry an edit-robust signature (:mod:`curate.dedup.signature`, set by the embed
stage): candidates from gist buckets are verified with a crop, photometric and time
search (:mod:`curate.dedup.edits`), a pair when the distance is at most
``edit_distance`` (0.06: on the labelled real-footage set of ``bench/dedup_pairs.py``,
with the pHash rule, precision 1.0 and recall 0.83 on its tuning split, 1.0 and 0.84 on
its test split, ``bench/dedup_accuracy.py`` on 2026-12-03; with the reframed, filled,
corner-cropped and one-side-cut copies added since, precision 1.0 and recall 0.699 and
0.700 on 2026-12-07, 0.713 and 0.713 with the second look on softened thumbnails of
:func:`curate.dedup.verify.distance`, every pair judged directly; the closest distinct pairs
are two ASL signs of one signer, 0.085 apart in the tuning split's windows and more than
0.06 as whole clips: a thin margin);
those pairs join the same groups. With ``semantic_min_cos`` set, clips whose open_clip
embeddings (``record.clip_embedding``, from a ``clip_embed`` stage) have at least that
cosine join them too (SemDeDup-style: k-means buckets, then cosine inside each,
:mod:`curate.dedup.clusters`).

The kept clip of a group is chosen by a fixed rule:

1. the most picture pixels in the clip: its own pixels, or its source's when the source
   is smaller, times ``picture_share`` (the share inside letterbox or pillarbox bars,
   :func:`curate.embed.picture_share`, set by the embed stage; 1 when unknown), so a
   letterboxed or pillarboxed copy loses to the clean one (found by a new-user
   walk-through: a 640x480 letterboxed copy had won over its 640x360 original by counting
   its bars); counts within :data:`PIXEL_TOLERANCE` (2 %) of the most are equal, as the
   share is measured a few columns wide at the bars' edges and the clip sizes are rounded
   (found by a break tester: a 852x360 pillarboxed copy, share 0.7547 of a true 0.751,
   showed 457.3 x 256 pixels to its clean 640x360 original's 456 x 256 and was kept),
2. of those, the least padding: ``picture_share`` within :data:`SHARE_TOLERANCE` (0.02)
   of the highest,
3. of those, the highest clip frame rate, within :data:`FPS_TOLERANCE` (1 %; clips are
   capped at the extract stage's ``max_fps``, so a copy at twice the rate gains nothing):
   a break test's copy at half the frame rate had been kept over its original, its last
   frame lasting longer made its clip 0.04 s longer (rule 6); a clip whose rate was raised
   by repeating frames counts at the lowest rate of the group's clips it was raised from
   (:func:`converted`), and of clips alike in rate one whose rate was not raised wins (a
   break test of re-uploads: in 5 of 8 groups a 24, 30 or 60 fps copy of a 10 or 12.5 fps
   original was kept),
4. then the most picture pixels in the clip, exactly,
5. then the most picture pixels in the source (a 1080p source over a 720p one that gives
   the same clip size),
6. then longest clip,
7. then the earliest (source path, start time),
8. then the smallest clip id;

but first, after rule 3, a copy far blurrier than the group's sharpest is out: ``focus``
(:func:`curate.score.focus`) under the highest divided by :data:`FOCUS_TOLERANCE` (2; a
break test's blurred, grainy copy, focus 0.44, had been kept over its clean original, 6.2,
by its file name). Only a factor counts, as grain and blocking raise focus too (grain of
3-6 levels by 1.03-1.5 times on the footage): a noisier copy must not win by it. A copy
whose focus reaches :data:`SHARP_FOCUS` (3.5, the shipped filter's ``sharp_focus``: sharp
real clips score 3.7-101 at every exposure, blurred ones 0.1-2.8) is never out: a break
test's watermarked copy (white text and a red block, focus 27.3) had put its clean
original (5.86) out, and the watermarked copy was kept.

every other member is dropped with reason ``duplicate`` and ``duplicate_of`` naming it.
The rule depends only on the records, not on their order, so results do not change
with parallelism.

Against earlier runs (``--dedup-against``, :mod:`curate.dedup.against`): a group that
holds an earlier run's clip keeps that clip (the first earlier run given, then the
smallest clip id) and drops every new clip in it; earlier clips are never dropped, and
pairs among earlier clips are not searched. With the signature rule on, an edited copy
of an earlier clip (cropped, re-lit, flipped, ...) is matched too
(:mod:`curate.dedup.against_edits`: the earlier indexes' signatures read in batches), also
when the earlier run's hashes have another length (``embed.hash_frames``): pHashes are
compared only at one length, signatures whatever it.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from curate import parallel
from curate.dedup.against import EarlierClips, EarlierIndex, load_earlier
from curate.dedup.against_edits import earlier_edit_matches
from curate.dedup.codes import hex_codes
from curate.dedup.clusters import bucket_pairs
from curate.dedup.edits import edit_pairs
from curate.dedup.reframe import reframe_pairs
from curate.dedup.groups import components
from curate.dedup.search import near_pairs
from curate.stage import Stage
from curate.tasks import ClipTask
from schemas import ClipRecord, RejectRecord

Dropped = tuple[ClipRecord, str, str]  # (dropped record, kept clip id, detail)
SPREAD_HASHES = 20_000  # fewest hashes whose band search is spread over parallel calls


PIXEL_TOLERANCE = 0.02  # picture pixels within this share of a group's most count as equal
SHARE_TOLERANCE = 0.02  # picture shares within this of a group's highest count as equal
FPS_TOLERANCE = 0.01  # clip frame rates within this share of a group's highest count as equal
RAISED_SLACK = 0.05  # share of frames a raised clip may repeat fewer than expected (:func:`converted`)
FOCUS_TOLERANCE = 2.0  # a copy whose focus is under the group's highest over this is too blurred to keep...
SHARP_FOCUS = 3.5  # ...unless its focus reaches this: sharp (the shipped filter's sharp_focus)


def picture_pixels(rec: ClipRecord) -> float:
    """Picture pixels of ``rec``'s clip: its pixels, or its source's when smaller, times
    ``picture_share`` (1 when unknown)."""
    share = rec.picture_share if rec.picture_share is not None else 1.0
    return min(rec.clip.width * rec.clip.height, rec.source.width * rec.source.height) * share


def keep_key(rec: ClipRecord) -> tuple:
    """Sort key of rules 4-8 of the keep rule (smallest wins; see module docstring), which
    :func:`keep_best` applies after the tolerant rules 1 to 3 and the focus rule."""
    share = rec.picture_share if rec.picture_share is not None else 1.0
    source = rec.source.width * rec.source.height
    return (-picture_pixels(rec), -source * share, -rec.clip.duration_s,
            rec.source.path, rec.span.start_s, rec.clip_id)


def repeat_share(rec: ClipRecord) -> float:
    """Share of ``rec``'s clip frames that repeat the one before (``clip.distinct_frames``
    left out, :mod:`curate.repeats`); 0 for a record without that count."""
    clip = rec.clip
    return 1 - clip.distinct_frames / clip.num_frames if clip.distinct_frames is not None and clip.num_frames else 0.0


def converted(rec: ClipRecord, low: ClipRecord) -> bool:
    """Whether ``rec``'s clip is ``low``'s (a clip of its group at a lower frame rate) with
    its rate raised by repeating frames (FFmpeg's ``fps`` filter): it repeats at least
    the frames ``low`` repeats plus those the raise adds, ``1 - (1 - r) * low.fps / fps``
    of them for ``low``'s share ``r`` (:func:`repeat_share`), less :data:`RAISED_SLACK`.
    Records without a count of new pictures are never converted. Measured on re-uploads
    of the footage: 30 fps copies of 10, 12.5 and 25 fps originals repeat 0.90, 0.83 and
    0.17 of their frames where 0.93, 0.85 and 0.17 are expected (their originals repeat
    0.79, 0.63 and 0: a still scene repeats many, in the original as in its copies)."""
    if rec.clip.distinct_frames is None or rec.clip.fps <= low.clip.fps * (1 + FPS_TOLERANCE):
        return False
    expected = 1 - (1 - repeat_share(low)) * low.clip.fps / rec.clip.fps
    return repeat_share(rec) >= expected - RAISED_SLACK


def keep_best(recs: list[ClipRecord]) -> int:
    """Position in ``recs`` of a group's kept clip (the keep rule of the module docstring).
    Depends only on the set of records, not their order: each tolerant rule compares with
    the group's best value, not clip by clip."""
    pixels = [picture_pixels(r) for r in recs]
    pos = [k for k, p in enumerate(pixels) if p >= max(pixels) * (1 - PIXEL_TOLERANCE)]
    shares = {k: recs[k].picture_share if recs[k].picture_share is not None else 1.0 for k in pos}
    pos = [k for k in pos if shares[k] >= max(shares.values()) - SHARE_TOLERANCE]
    lows: dict[float, ClipRecord] = {}  # of each rate, the clip repeating fewest (any raised from it qualifies)
    for k in sorted(pos, key=lambda k: repeat_share(recs[k]), reverse=True):
        lows[recs[k].clip.fps] = recs[k]
    rates = {k: min([recs[k].clip.fps] + [fps for fps, low in lows.items() if converted(recs[k], low)])
             for k in pos}  # a raised clip: the lowest rate it was raised from
    raised = {k for k in pos if rates[k] < recs[k].clip.fps}
    pos = [k for k in pos if rates[k] >= max(rates.values()) * (1 - FPS_TOLERANCE)]
    pos = [k for k in pos if k not in raised] or pos
    focus = {k: recs[k].scores.focus for k in pos if recs[k].scores is not None and recs[k].scores.focus is not None}
    if len(focus) == len(pos):  # (records without scores: a run without the score stage)
        pos = [k for k in pos if focus[k] * FOCUS_TOLERANCE >= max(focus.values()) or focus[k] >= SHARP_FOCUS]
    return min(pos, key=lambda k: keep_key(recs[k]))


class DedupStage(Stage):
    """Group near-duplicates over all records of a run (see module docstring).

    Config: ``max_distance`` (fraction of differing hash bits, 0..1); ``edit_distance``
    (signature distance of an edited copy, :func:`curate.dedup.verify.distance`; null
    turns the signature rule off); ``min_gist_cos`` (cosine of two clips' gists for
    them to be verified for every edit); ``crop_gist_cos`` (from this cosine up to
    ``min_gist_cos`` they are verified as crops only, :mod:`curate.dedup.edits`; null: not
    at all); ``mirror`` (a left-right flipped copy is an edited copy too: each gist is also
    searched mirrored); ``turns`` (so is a copy turned 90, 180 or 270 degrees,
    :mod:`curate.dedup.views`); ``reframe`` (a portrait or square crop of a landscape clip, or a
    widescreen crop of a 4:3 one, is an edited copy too, :mod:`curate.dedup.reframe`);
    ``semantic_min_cos`` (cosine of two clips' open_clip embeddings for a semantic
    duplicate; null = off); ``workers`` (parallel calls that search hash bands and verify
    candidates, :mod:`curate.parallel`: Ray tasks, or a local run's sandbox
    children; 1 = in this process; null, the default = as many as the run has CPUs:
    :meth:`n_workers`).
    This stage runs on the driver over every committed record, not per clip.
    """

    name = "dedup"
    stage: Literal["dedup"] = "dedup"
    max_distance: float = Field(0.05, ge=0, le=1)
    edit_distance: float | None = Field(0.06, ge=0, le=2)
    min_gist_cos: float = Field(0.7, ge=-1, le=1)
    crop_gist_cos: float | None = Field(0.5, ge=-1, le=1)
    crop_windows: bool = True
    mirror: bool = True
    turns: bool = True
    reframe: bool = True
    semantic_min_cos: float | None = Field(None, ge=-1, le=1)
    workers: int | None = Field(None, ge=1, le=256)

    @model_validator(mode="after")
    def _crop_range(self) -> DedupStage:
        if self.crop_gist_cos is not None and self.crop_gist_cos >= self.min_gist_cos:
            raise ValueError(f"crop_gist_cos ({self.crop_gist_cos}) must be under min_gist_cos "
                             f"({self.min_gist_cos}): gists from crop_gist_cos up to min_gist_cos are "
                             "verified as crops only (null: none)")
        return self

    def n_workers(self) -> int:
        """``workers``, or when null the CPUs the runner's parallel calls have
        (:func:`curate.parallel.cpus`; 1 when none are installed): after the per-source phase
        they are free, and verifying a few hundred candidate pairs takes seconds on one core."""
        if self.workers is not None:
            return self.workers
        return max(1, min(256, parallel.cpus()))

    def max_bits(self, hex_len: int) -> int:
        """Largest Hamming distance (bits) still a near-duplicate for ``hex_len``-char hashes."""
        return math.floor(self.max_distance * hex_len * 4)

    def run(self, records: list[ClipRecord], against: EarlierIndex | list[str] | None = None
            ) -> tuple[list[ClipRecord], list[Dropped]]:
        """Split ``records`` into kept records and ``(dropped record, kept clip id, detail)``.

        ``against``: earlier runs (an :class:`EarlierIndex` or paths for
        :func:`curate.dedup.against.load_earlier`). Kept records come back in the input
        order, dropped ones in input order too. Records without a hash are kept.
        """
        if isinstance(against, (list, tuple)):
            against = load_earlier(list(against)) if against else None
        by_len: dict[int, list[int]] = {}
        for i, r in enumerate(records):
            if r.phash:
                by_len.setdefault(len(r.phash), []).append(i)
        dropped: dict[int, tuple[str, str]] = {}
        workers = self.n_workers()
        for length, idx in by_len.items():
            earlier = against.by_len.get(length) if against is not None else None
            paths = against.paths if against is not None else []
            self._drop(records, np.array(idx), self.max_bits(length), earlier, paths, dropped, workers)
        kept = [r for i, r in enumerate(records) if i not in dropped]
        return kept, [(records[i], *dropped[i]) for i in sorted(dropped)]

    def _drop(self, records, idx: np.ndarray, max_dist: int, earlier: EarlierClips | None,
              paths: list[str], dropped: dict[int, tuple[str, str]], workers: int = 1) -> None:
        """Mark the dropped members of each group among ``records[idx]`` (same hash length):
        ``earlier``, the earlier runs' clips of that length (pHash pairs); ``paths``, every
        earlier run (signature pairs, whatever the hash length)."""
        codes = hex_codes([records[i].phash for i in idx])
        # Identical hashes are searched once (a bucket of many equal codes would cost
        # its square in candidates): each record is joined to the first with its code.
        _, first, same = np.unique(codes.view(f"V{codes.shape[1]}").ravel(), return_index=True,
                                   return_inverse=True)
        codes, n = codes[first], len(idx)
        band_workers = workers if n >= SPREAD_HASHES else 1  # a few thousand codes take milliseconds here
        i, j, _ = near_pairs(codes, max_dist, workers=band_workers)
        i, j = np.r_[first[i], np.arange(n)], np.r_[first[j], first[same]]
        if self.edit_distance is not None:
            ei, ej, _ = edit_pairs([records[k].dedup_signature for k in idx], self.edit_distance,
                                   self.min_gist_cos, workers=workers, joined=(i, j),
                                   mirror=self.mirror, crop_cos=self.crop_gist_cos,
                                   crop_windows=self.crop_windows, turns=self.turns)
            i, j = np.r_[i, ei], np.r_[j, ej]
            if self.reframe:
                ri, rj, _ = reframe_pairs([records[k].dedup_signature for k in idx], self.edit_distance,
                                          min(self.min_gist_cos, self.crop_gist_cos or 1.0), joined=(i, j))
                i, j = np.r_[i, ri], np.r_[j, rj]
        if self.semantic_min_cos is not None:
            si, sj = semantic_pairs([records[k].clip_embedding for k in idx], self.semantic_min_cos)
            i, j = np.r_[i, si], np.r_[j, sj]
        qi, keys = np.zeros(0, np.int64), []  # new positions, (run, clip id) of earlier clips
        if earlier is not None and len(earlier.clip_ids):
            qi, bj, _ = near_pairs(codes, max_dist, base=earlier.codes,
                                  workers=workers if n + len(earlier.codes) >= SPREAD_HASHES else 1)
            qi = first[qi]
            keys = list(zip(earlier.runs[bj].tolist(), earlier.clip_ids[bj].astype(str).tolist()))
        if paths and self.edit_distance is not None:  # edited copies of earlier clips (signatures)
            ei, ekeys = self._earlier_edits(records, idx, paths, skip=set(qi.tolist()))
            qi, keys = np.r_[qi, ei], keys + ekeys
        olds = sorted(set(keys))  # earlier clips in the graph, by (run, clip id)
        node = {k: p for p, k in enumerate(olds)}
        i, j = np.r_[i, qi], np.r_[j, n + np.array([node[k] for k in keys], np.int64)]
        for group in components(n + len(olds), i, j):
            old = group[group >= n]
            if len(old):
                run, winner = olds[int(old.min()) - n]
                for g in group[group < n]:  # the very clip again (its id is its content): said so (a new-user trial)
                    same = records[int(idx[g])].clip_id == winner
                    what = f"the same clip as {winner}" if same else f"near-duplicate of {winner}"
                    dropped[int(idx[g])] = (winner, f"{what} in earlier run {paths[run]}")
                continue
            members = [int(idx[g]) for g in group]
            best = members[keep_best([records[m] for m in members])]
            for m in members:
                if m != best:
                    dropped[m] = (records[best].clip_id, f"near-duplicate of {records[best].clip_id}")

    def _earlier_edits(self, records, idx: np.ndarray, paths: list[str], skip: set[int]
                       ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """``(positions in idx, (run, clip id) of the earlier clip)`` of new clips that are
        edited copies of earlier clips (:func:`curate.dedup.against_edits.earlier_edit_matches`);
        positions in ``skip`` are matched already. Signatures do not depend on the hash
        length, so an earlier clip is matched whatever its run's ``hash_frames`` (found by a
        break tester: a run made with another one had never been matched)."""
        found = earlier_edit_matches([records[k].dedup_signature for k in idx], paths, self.edit_distance,
                                     self.min_gist_cos, self.mirror, skip=skip,
                                     crop_cos=self.crop_gist_cos, reframe=self.reframe,
                                     crop_windows=self.crop_windows, turns=self.turns)
        pos = sorted(found)
        return np.array(pos, np.int64), [(int(found[g][0]), str(found[g][1])) for g in pos]


def duplicate_row(rec: ClipRecord, of: str, detail: str) -> RejectRecord:
    """The ``dedup`` ``duplicate`` reject row of ``rec``, a copy of clip ``of``."""
    task = ClipTask(source=rec.source, span=rec.span, clip_id=rec.clip_id, work_dir="", record=rec)
    task.reject("dedup", "duplicate", detail, duplicate_of=of)
    return task.reject_row


def drop_duplicates(records: list[ClipRecord], stage: DedupStage | None,
                    against: EarlierIndex | list[str] | None = None) -> tuple[list[ClipRecord], list[RejectRecord]]:
    """A run's dedup phase: ``(kept records, duplicate reject rows)``.

    Byte-identical sources (copies, links) give the same clip ids: the first source in
    ``records``' order keeps its clips, the others' become rows ("identical source").
    Then ``stage`` (None: no dedup stage) groups the rest (:meth:`DedupStage.run`,
    ``against``: earlier runs) and each dropped clip becomes a row naming the clip kept."""
    seen: dict[str, str] = {}
    kept, rows = [], []
    for rec in records:
        first = seen.setdefault(rec.clip_id, rec.source.path)
        if first == rec.source.path:
            kept.append(rec)
        else:
            rows.append(duplicate_row(rec, rec.clip_id, f"identical source: same clip as in {first}"))
    if stage is not None:
        kept, dropped = stage.run(kept, against=against)
        rows += [duplicate_row(rec, winner, detail) for rec, winner, detail in dropped]
    return kept, rows


def semantic_pairs(embeddings: list[str], min_cos: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of positions in ``embeddings`` (packed vectors, empty = none) whose
    cosine is at least ``min_cos`` (:func:`curate.dedup.clusters.bucket_pairs`)."""
    from curate.quality.clip import unpack

    rows = np.array([k for k, e in enumerate(embeddings) if e], dtype=np.int64)
    if len(rows) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    x = np.stack([unpack(embeddings[k]) for k in rows])
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    i, j, _ = bucket_pairs(x, min_cos)
    return rows[i], rows[j]
