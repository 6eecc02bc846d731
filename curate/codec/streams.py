"""Which stream of a container is the source's video: cover art and still images never
count, and among several real video streams the one with the most packets wins.

Split from :mod:`curate.codec.probe` (which re-exports these names); the probe and every
decode of a source call :func:`pick_video_stream`, so they agree on the stream.
"""

from __future__ import annotations

import av

from curate.codec.errors import CodecError, open_container
from curate.codec.isobmff import is_truncated_mp4

_PICTURE = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image
_DEFAULT = av.stream.Disposition.default


def is_picture(stream) -> bool:
    """True for a video stream that is a picture, not video: cover art (``attached_pic``
    disposition: MP3 APIC, MP4 ``covr``, Matroska image attachments) or ``still_image``."""
    return bool(int(stream.disposition) & int(_PICTURE))


def pick_video_stream(container: av.container.InputContainer):
    """The source's video stream: the best real video stream of ``container``, or None.

    Pictures (:func:`is_picture`) never count. With several candidates, the container's
    video packets are counted in one demux pass and the stream with the most packets
    wins (a 1-frame still image stored before the real video loses), then the largest
    area, then the ``default`` disposition, then the lowest index. That pass reads the
    container to its end: reopen it before decoding. Deterministic for a given file, so
    the probe and every decode of a source agree (the probe also records the index).
    """
    found = [s for s in container.streams.video if not is_picture(s)]
    if len(found) <= 1:
        return found[0] if found else None
    counts = dict.fromkeys((s.index for s in found), 0)
    for packet in container.demux(*found):
        if packet.size > 0 and packet.pts is not None:
            counts[packet.stream.index] += 1
    ctx = lambda s: s.codec_context  # noqa: E731
    return max(found, key=lambda s: (counts[s.index], (ctx(s).width or 0) * (ctx(s).height or 0),
                                     bool(int(s.disposition) & int(_DEFAULT)), -s.index))


def video_stream_index(path: str) -> int:
    """``stream.index`` of :func:`pick_video_stream` for ``path``.

    Raises :class:`CodecError` ``no_video_stream`` when there is none (audio only, or
    only cover art), ``truncated`` when none is read from an MP4/MOV cut short
    (:func:`curate.codec.isobmff.is_truncated_mp4`: a download stopped inside its index,
    which FFmpeg reads as a file of no or only data streams).
    """
    with open_container(path) as container:
        stream = pick_video_stream(container)
        if stream is None:
            if is_truncated_mp4(path):
                raise CodecError("truncated", "the file is cut short inside its index (moov box): no video "
                                 "stream can be read")
            raise CodecError("no_video_stream", streams_detail(container))
        return stream.index


def streams_detail(container) -> str:
    """``no video stream; streams: [...]``: each stream of ``container`` by its type, cover art named."""
    kinds = [("cover art" if s.type == "video" and is_picture(s) else s.type) for s in container.streams]
    return f"no video stream; streams: {kinds}"
