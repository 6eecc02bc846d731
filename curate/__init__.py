"""Pure building blocks and stages of the curation flow (no Ray import).

Codec work (PyAV) lives in :mod:`curate.codec`; every other module works on arrays
and records.
"""
