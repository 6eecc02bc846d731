"""Stable reject reasons: the values that ``rejects.parquet`` uses in its ``reason`` column.

A reason is a short code; ``detail`` carries the specifics (error text, the threshold
that failed). Adding a reason is fine; renaming one breaks users' queries.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "not_found": "the input path does not exist (or is a folder): the next run looks again",
    "no_video_stream": "the file has no video stream (audio-only, data, image list, a still photo)",
    "unsupported_codec": "the video stream's codec cannot be decoded by this build",
    "truncated": "the file ends early and too little of it decodes",
    "decode_error": "decoding failed",
    "partially_decoded": "decoding failed part-way: clips come from the frames before the failure "
                         "(source.partial); the row's span is the part lost, detail says frames "
                         "decoded of expected and the time of the failure",
    "timeout": "decoding the source took longer than the per-source time limit",
    "too_short": "the source or shot is shorter than the minimum clip length",
    "too_long": "the source is longer than the configured maximum",
    "no_shots": "no frame is in a shot: the source is blank or one long transition",
    "encode_error": "writing the clip failed",
    "hdr_unsupported": "the source is HDR (PQ or HLG transfer) and this build cannot tone-map it to SDR",
    "stage_error": "a stage raised an unexpected error (detail has the message)",
    "no_space": "a disk filled while the source or clip was worked on (the node's scratch "
                "folder, TMPDIR, or the output): free space; the next run redoes it",
    "source_changed": "the local source file changed (size or mtime) while it was read (a file "
                      "still being copied, or rewritten): the next run curates it again",
    "low_motion": "motion score below the minimum",
    "high_motion": "motion score above the maximum",
    "blurry": "sharpness below the minimum",
    "too_dark": "mean luma below the minimum",
    "too_bright": "mean luma above the maximum",
    "black_frames": "share of near-black frames above the maximum",
    "overexposed": "share of blown-out (luma >= 250) pixels above the maximum",
    "duplicate": "near-duplicate of another clip (see duplicate_of)",
    "low_resolution": "the source picture is smaller than the minimum width, height or short side",
    "bad_aspect_ratio": "the source picture's aspect ratio (width / height) is outside the limits",
    "text_overlay": "on-screen text (subtitles, watermarks, slides) covers more than the maximum share",
    "nsfw": "the NSFW detector's score is above the maximum",
    "low_aesthetic": "aesthetic score below the minimum",
    "caption_mismatch": "CLIP score between the clip and its caption below the minimum",
}


def check(reason: str) -> str:
    """Return ``reason`` if it is a known code; raise ValueError otherwise."""
    if reason not in REASONS:
        raise ValueError(f"unknown reject reason {reason!r}; known: {sorted(REASONS)}")
    return reason
