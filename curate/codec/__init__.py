"""All container and codec work (PyAV): probing, sequential decoding, H.264 encoding.

Nothing outside this package opens a video container.
"""

from curate.codec.decode import DecodedFrame, iter_frames, scaled_size, upright
from curate.codec.encode import ClipWriter, as_rate
from curate.codec.errors import CodecError, classify, open_container
from curate.codec.probe import ProbeResult, probe

__all__ = [
    "ClipWriter", "CodecError", "DecodedFrame", "ProbeResult", "as_rate", "classify",
    "iter_frames", "open_container", "probe", "scaled_size", "upright",
]
