"""All container and codec work (PyAV): probing, sequential decoding, H.264 encoding
(NVDEC/NVENC on GPU nodes where they work: :mod:`curate.codec.hwaccel`).

Nothing outside this package opens a video container.
"""

from curate.codec.decode import DecodedFrame, iter_frames, scaled_size, upright
from curate.codec.encode import ClipWriter, as_rate
from curate.codec.errors import CodecError, classify, open_container
from curate.codec.hwaccel import DecoderChoice, EncoderChoice, pick_decoder, pick_encoder
from curate.codec.probe import ProbeResult, probe

__all__ = [
    "ClipWriter", "CodecError", "DecodedFrame", "DecoderChoice", "EncoderChoice", "ProbeResult",
    "as_rate", "classify", "iter_frames", "open_container", "pick_decoder", "pick_encoder", "probe",
    "scaled_size", "upright",
]
