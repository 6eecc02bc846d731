"""The driver's share of a run: with a file:// output it opens no clip or frame sample
and workers put every clip, sample and shard into the store; its memory in the
per-source phase stays flat as the clip count grows."""

import os
import sys
import tarfile

import pyarrow.parquet as pq

from support.pipelines import TEST_OVERRIDES, make_pipeline


def test_file_url_output_and_the_driver_reads_no_clip_bytes(ray_session, footage, tmp_path, monkeypatch):
    """The driver opens no clip or frame sample (audit hook on ``open``) and receives rows
    without samples; workers put every clip, frame sample and shard into the store, and
    decode report.html's thumbnails."""
    import pipelines.runner as runner
    from pipelines.runner import run_pipeline

    opened: list[str] = []
    watching = [True]

    def hook(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # cannot be removed: ``watching`` switches it off after the run
    rows: list[tuple] = []
    real_loads = runner.loads

    def spy(blob):
        task = real_loads(blob)
        rows.append((getattr(task, "frames", None), getattr(task, "motion", None)))
        return task

    monkeypatch.setattr(runner, "loads", spy)
    out = tmp_path / "out"
    try:
        summary = run_pipeline(make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": True}),
                               [footage["cuts"][0], footage["long"][0]], f"file://{out}", progress=False)
    finally:
        watching[0] = False
    assert summary.clips_kept == 3 + 3 and summary.output == str(out)
    clips = sorted(p.name for p in (out / "work" / "clips").iterdir())
    assert len([c for c in clips if c.endswith(".mp4")]) == 6 and len(clips) == 12
    assert not [p for p in opened if p.endswith((".mp4", ".npz", ".tar")) and p.startswith(str(out))]
    assert rows and all(f is None and m is None for f, m in rows)  # metadata only, no samples
    index = pq.read_table(out / "index.parquet").to_pylist()
    packed = set()
    for shard in sorted((out / "shards").glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            packed |= {m.name.split(".", 1)[0] for m in tar.getmembers()}
    assert packed == {r["clip_id"] for r in index}
    assert not os.path.exists("file:") and not os.path.exists(out / "work" / "lease.json")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") >= 6  # thumbnails of the kept clips, made by workers


class _Plan:
    """Stands in for the per-source Ray Data plan: clip rows as the driver receives them."""

    def __init__(self, sources: list[str], per_source: int):
        self.sources, self.per_source = sources, per_source

    def iter_rows(self):
        from curate.tasks import ClipTask
        from pipelines.plan import dumps
        from schemas import ClipRecord, ClipVideo, SourceInfo, Span

        for s, path in enumerate(self.sources):
            src = SourceInfo(path=path, source_id=f"{s:08d}", size_bytes=10**9, duration_s=60.0, fps=25.0,
                             num_frames=1500, width=1920, height=1080, codec="h264")
            for k in range(self.per_source):
                span = Span(shot_index=k, start_frame=k * 100, end_frame=k * 100 + 100, start_s=k * 4.0,
                            end_s=k * 4.0 + 4.0)
                clip = ClipVideo(num_frames=100, fps=25.0, width=456, height=256, duration_s=4.0,
                                 size_bytes=50_000_000)  # 50 MB stated; the driver never sees the bytes
                rec = ClipRecord(clip_id=f"{s:06d}{k:04d}", source=src, span=span, clip=clip)
                yield {"task": dumps(ClipTask(source=src, span=span, clip_id=rec.clip_id, work_dir="",
                                              n_in_source=self.per_source, record=rec, source_path=path))}


def _source_phase_peak(out, n_sources: int, per_source: int, monkeypatch) -> int:
    import tracemalloc

    import pipelines.plan as plan
    import pipelines.runner as runner

    sources = [f"s3://in/v{s:04d}.mp4" for s in range(n_sources)]
    monkeypatch.setattr(plan, "source_plan", lambda todo, *a: _Plan(todo, per_source))  # _source_phase imports it
    run = runner.Runner(make_pipeline(TEST_OVERRIDES), sources, str(out), progress=False)
    with run.store:
        tracemalloc.start()
        try:
            run._source_phase(sources)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert all(run.store.done(s) for s in sources)
    return peak


def test_driver_memory_per_source_is_bounded_while_clip_count_grows(tmp_path, monkeypatch):
    """The driver holds one source's records until its commit, never clip bytes: its peak
    (tracemalloc) in the per-source phase stays flat from 50 to 800 clips of 50 MB each."""
    _source_phase_peak(tmp_path / "warm", 2, 10, monkeypatch)  # first-use caches out of the way
    small = _source_phase_peak(tmp_path / "small", 5, 10, monkeypatch)
    large = _source_phase_peak(tmp_path / "large", 80, 10, monkeypatch)
    print(f"driver peak: {small / 1e3:.0f} kB for 50 clips, {large / 1e3:.0f} kB for 800 clips")
    assert large < 1.5 * small
