"""Edited copies of earlier runs' clips (``--dedup-against`` with the signature rule).

The pHash rule (:mod:`curate.dedup.against`) finds a new clip that is a re-encode or a
rescale of a published one; a copy that was cropped, padded, re-lit, shifted in time or
flipped left-right changes its pHash too much. When the dedup stage's signature rule is
on (``edit_distance``), each earlier run's ``dedup_signature`` column is read here in
batches of rows: a new clip and an earlier one whose gists
(:func:`curate.dedup.signature.read_gist`) have cosine >= ``min_cos`` (with ``mirror``,
also the new gist mirrored against the earlier one) are verified with
:func:`curate.dedup.verify.distance`, exactly as two clips of one run are
(:mod:`curate.dedup.edits`). Memory is one batch of earlier signatures (about 14 KB each)
plus the new clips' gists; the gist comparison is a matrix product per batch, linear in
the earlier runs' size. An index without the column (or with empty signatures: a run
made with ``signature: false``) adds no pair; a signature of an older vidcurate, without
the gist, gets its gist from its thumbnails (:func:`curate.dedup.signature.read_gist`).
With ``reframe``, reframed copies (:mod:`curate.dedup.reframe`) are looked for in each
batch too; an earlier signature written before the picture's aspect was kept is never
one's.
The run checked every earlier signature's fields before any work
(:func:`curate.dedup.against.check_values`); one whose thumbnails are damaged past that
check is left out with a warning, its clip still matched by pHash.
"""

from __future__ import annotations

import sys

import numpy as np

from curate.cvthreads import one_blas_thread, one_cv_thread
from curate.dedup import reframe
from curate.dedup.against import open_index
from curate.dedup.cropwin import crop_candidates
from curate.dedup.edits import gists_by_size, mirror_gists
from curate.dedup.signature import Signature, decode
from curate.dedup.verify import distance
from curate.dedup.views import MIRROR, PLAIN, TURNS, view_gists, view_sig

Match = tuple[int, str, float]  # (earlier run position in paths, earlier clip id, distance)


def _batches(path: str, rows: int):
    """``(clip ids, signatures)`` of an earlier index, ``rows`` at a time; nothing when it
    has no ``dedup_signature`` column."""
    ds = open_index(path)
    if "dedup_signature" not in ds.schema.names:
        return
    for batch in ds.to_batches(columns=["clip_id", "dedup_signature"], batch_size=rows):
        yield batch.column("clip_id").to_pylist(), batch.column("dedup_signature").to_pylist()


def _warn(path: str, clip_id: str, exc: ValueError) -> None:
    print(f"warning: --dedup-against {path}: clip {clip_id}: {exc}; matched by pHash only", file=sys.stderr)


def _decoded(text: str, path: str, clip_id: str) -> Signature | None:
    """The earlier clip's signature, or None (with a warning) when it does not decode."""
    try:
        return decode(text)
    except ValueError as exc:
        _warn(path, clip_id, exc)
        return None


def earlier_edit_matches(signatures: list[str], paths: list[str], max_distance: float,
                         min_cos: float, mirror: bool = True, motion_weight: float = 0.15,
                         skip: set[int] | frozenset = frozenset(), batch_rows: int = 2048,
                         crop_cos: float | None = None, reframe: bool = False,
                         crop_windows: bool = False, turns: bool = False) -> dict[int, Match]:
    """``{position in signatures: (run, earlier clip id, distance)}`` for each new clip
    (record signature strings; empty = none) that is an edited copy of a clip of the
    earlier runs ``paths`` (output folders or index paths, local or fsspec URLs): the
    first run in ``paths`` order with such a copy, and in it the smallest clip id.
    Positions in ``skip`` (already matched by pHash) are not searched. ``crop_cos``: pairs
    whose gist cosine is under ``min_cos`` but at least this are verified as crops only
    (:mod:`curate.dedup.edits`). ``reframe``: a new clip that is a reframe of an earlier one,
    or the other way round, is a copy too (:func:`_reframes`). ``crop_windows``: an
    off-centre crop of an earlier clip, or an earlier crop of a new clip, too
    (:func:`_window_crops`). ``turns``: a new clip turned a quarter or a half from an
    earlier one (:mod:`curate.dedup.views`). Raises
    FileNotFoundError for a path without an index and ValueError for a malformed signature
    (but for an earlier one whose thumbnails do not decode: left out, with a warning)."""
    new = gists_by_size([s if k not in skip else "" for k, s in enumerate(signatures)])
    low = min(min_cos, crop_cos) if crop_cos is not None else min_cos
    found: dict[int, Match] = {}
    decoded: dict[int, Signature] = {}
    windows: dict[int, np.ndarray] = {}  # the new clips' window gists, for every batch
    with one_cv_thread(), one_blas_thread():  # small thumbnails: see curate/cvthreads.py
        for run, path in enumerate(paths):
            for ids, texts in _batches(path, batch_rows):
                old, theirs = gists_by_size(texts, lambda b, exc: _warn(path, ids[b], exc)), {}
                for size, (rows, gists) in new.items():
                    if size not in old:
                        continue
                    orows, ogists = old[size]
                    views = [(gists @ ogists.T, PLAIN, low)]
                    if mirror:
                        views.append((mirror_gists(gists) @ ogists.T, MIRROR, low))
                    for v in TURNS if turns else ():  # turned copies from min_cos (curate/dedup/edits.py)
                        views.append((view_gists(gists, v) @ ogists.T, v, min_cos))
                    cand = sorted({(int(rows[a]), int(orows[b]), flip, bool(cos[a, b] < min_cos))
                                   for cos, flip, least in views for a, b in zip(*np.nonzero(cos >= least))})
                    for k, b, flip, crops in cand:
                        if k in found and found[k][:2] <= (run, ids[b]):
                            continue  # an earlier run, or a smaller clip id, already holds a copy of it
                        if k not in decoded:
                            decoded[k] = decode(signatures[k])
                        mine = view_sig(decoded[k], flip)
                        if b not in theirs:
                            theirs[b] = _decoded(texts[b], path, ids[b])
                        if theirs[b] is None:
                            continue
                        d = distance(mine, theirs[b], motion_weight, limit=max_distance, crops_only=crops)
                        if d <= max_distance:
                            found[k] = (run, ids[b], d)
                if reframe:
                    _reframes(signatures, skip, run, path, ids, texts, theirs, decoded, found,
                              max_distance, low)
                if crop_windows:
                    _window_crops(signatures, skip, run, path, ids, texts, theirs, decoded, found,
                                  max_distance, motion_weight, windows, mirror)
    return found


def _open(k: int, o: int, signatures: list[str], run: int, path: str, ids: list[str], texts: list[str],
          theirs: dict[int, Signature | None], decoded: dict[int, Signature], found: dict[int, Match]) -> bool:
    """Whether new clip ``k`` and earlier clip ``o`` of this batch are to be compared: not
    when ``k`` holds a match in an earlier run or with a smaller clip id already, nor when
    ``o``'s signature does not decode (warned). Decodes both into ``decoded`` and ``theirs``."""
    if k in found and found[k][:2] <= (run, ids[o]):
        return False
    if k not in decoded:
        decoded[k] = decode(signatures[k])
    if o not in theirs:
        theirs[o] = _decoded(texts[o], path, ids[o])
    return theirs[o] is not None


def _window_crops(signatures: list[str], skip, run: int, path: str, ids: list[str], texts: list[str],
                  theirs: dict[int, Signature | None], decoded: dict[int, Signature], found: dict[int, Match],
                  max_distance: float, motion_weight: float, windows: dict[int, np.ndarray],
                  mirror: bool) -> None:
    """Add to ``found`` the new clips that are off-centre crops of a clip of this batch of an
    earlier run, or whose crop it is (:mod:`curate.dedup.cropwin`, searched over the new
    clips' and the batch's signatures together, only pairs between the two), verified as
    crops only: the same rule as inside a run, the same first-run, smallest-id choice.
    ``windows``: the new clips' window gists, computed once for all batches; ``mirror``:
    crops of flipped copies too."""
    n = len(signatures)
    mine = [s if k not in skip else "" for k, s in enumerate(signatures)]
    for _, a, b, view in crop_candidates(mine + list(texts), between=n, known=windows, mirror=mirror):
        k, o = (a, b - n) if a < n else (b, a - n)
        if not _open(k, o, signatures, run, path, ids, texts, theirs, decoded, found):
            continue
        d = distance(view_sig(decoded[k], view), theirs[o], motion_weight, limit=max_distance, crops_only=True)
        if d <= max_distance:
            found[k] = (run, ids[o], d)


def _reframes(signatures: list[str], skip, run: int, path: str, ids: list[str], texts: list[str],
              theirs: dict[int, Signature | None], decoded: dict[int, Signature], found: dict[int, Match],
              max_distance: float, min_cos: float) -> None:
    """Add to ``found`` the new clips that are reframes of a clip of this batch of an earlier
    run, or whose reframe it is (:mod:`curate.dedup.reframe`, searched over the new clips'
    and the batch's signatures together, only pairs between the two: new-new pairs, the
    run's own dedup, would take a copy's places among its most alike sources): the same
    rule and motion weight as inside a run, the same first-run, smallest-id choice as the
    other matches."""
    n = len(signatures)
    mine = [s if k not in skip else "" for k, s in enumerate(signatures)]
    limit = reframe.LIMIT_SHARE * max_distance
    for _, a, b, frac, _pos, across in reframe.candidates(mine + list(texts), min_cos, between=n):
        k, o = (a, b - n) if a < n else (b, a - n)
        if not _open(k, o, signatures, run, path, ids, texts, theirs, decoded, found):
            continue
        narrow, wide = (decoded[k], theirs[o]) if a < n else (theirs[o], decoded[k])
        d = reframe.reframe_distance(narrow, wide, frac, limit, reframe.MOTION_WEIGHT, across)
        if d is not None and d <= limit:
            found[k] = (run, ids[o], d)
