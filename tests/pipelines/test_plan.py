"""Plans (pipelines/plan.py): input rows one source per block with no extra tasks, and no
re-blocking after the one-decode pass when no clip stage is left after it.

``ray.data.from_items`` already gives one row per block up to 1024 items; a
``repartition`` after it cost one Ray task per source before any work (24 tasks, about
1.4 s of scheduling on 2 cores for ../shared/footage) and let Ray Data start the first
sources out of order (the 139 s source, second in the plan, started 23rd of 24 and ran
alone for 3 s at the end of the run).
"""

from __future__ import annotations


def test_rows_are_one_source_per_block_without_a_repartition(ray_session):
    from pipelines.plan import _rows

    items = [{"i": i} for i in range(6)]
    ds = _rows(items).materialize()
    assert ds.num_blocks() == 6
    assert [row["i"] for row in ds.iter_rows()] == list(range(6))
    assert "Repartition" not in ds.stats()


def test_more_rows_than_blocks_are_split_while_streaming(ray_session):
    from pipelines.plan import _rows

    items = [{"i": i} for i in range(1100)]
    ds = _rows(items).materialize()
    assert ds.num_blocks() == 1100  # 1024 input blocks, re-cut to one row each
    assert sorted(row["i"] for row in ds.iter_rows()) == list(range(1100))


def test_clips_are_not_re_blocked_when_every_clip_stage_ran_in_the_pass(ray_session):
    """The 16-clip repartition after the one-decode pass merged the clips of several
    finished sources into one block, which held them back from their commit (a helper's
    Ctrl-C 11 s into a run on a joined cluster had kept 0 of 24 sources). When every clip
    stage runs inside the pass there is nothing left to spread, so there is none; a model
    stage after the pass keeps it."""
    from curate.quality.stage import QualityStage
    from pipelines.plan import PassSteps, source_plan
    from support.pipelines import make_pipeline

    p = make_pipeline()
    steps = PassSteps(p.stages[0], p.stages[1], p.clip_stages(), p.stages[2].clip_settings())
    assert steps.one_pass.drop_samples
    assert "Repartition" not in repr(source_plan(["a.mp4"], "/tmp", steps))
    later = PassSteps(p.stages[0], p.stages[1], p.clip_stages() + [QualityStage(nsfw=True)],
                      p.stages[2].clip_settings())
    assert not later.one_pass.drop_samples
    assert "Repartition" in repr(source_plan(["a.mp4"], "/tmp", later))
