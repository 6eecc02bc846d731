"""Input rows of a plan (pipelines/plan.py ``_rows``): one source per block, no extra tasks.

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
