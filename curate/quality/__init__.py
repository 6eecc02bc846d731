"""Quality scores and filters with learned models and simple picture limits.

- :mod:`curate.quality.weights`: where model files come from (a path, or the wheel that
  ships them) and ONNX Runtime sessions, GPU when present;
- :mod:`curate.quality.text`: on-screen text area (PP-OCR text detection);
- :mod:`curate.quality.nsfw`: NSFW score (NudeNet's detector);
- :mod:`curate.quality.stage`: the ``quality`` stage: resolution and aspect limits, then
  the model scores and their thresholds.
"""
