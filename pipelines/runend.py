"""The end of a run, after the per-source phase: dedup over every committed record, the
post stages (captions) on the kept clips, then shards, ``index.parquet``,
``rejects.parquet``, ``manifest.json`` and ``report.html``, in that order, so an index
never names a shard that is not written and a manifest is the last word of a finished
run. :class:`RunEnd` is the part of :class:`pipelines.runner.Runner` that does it.
"""

from __future__ import annotations

import time
from functools import partial

from curate import parallel, store
from curate.dedup.stage import drop_duplicates
from curate.shards import caption_text, keep_shards, remove_stale
from pipelines import exits
from pipelines.postphase import post_phase, restore_work
from pipelines.raytasks import Workers
from pipelines.report import RunSummary, summarise, write_manifest
from pipelines.report_html import write_report_safely
from pipelines.unchanged import earlier_manifest, kept_shards, packed, packing
from pipelines.workclips import frames_needed
from schemas import ClipRecord, RejectRecord, write_parquet


def pack_shards(jobs: list, workers: Workers) -> list:
    """Pack the planned shards (``ShardJob`` each) on the run's ``workers``, one call per
    shard (:meth:`pipelines.raytasks.Workers.pack_shards`); infos in shard order."""
    return workers.pack_shards(jobs)



class RunEnd:
    """Dedup, post stages, shards and the run's files (module docstring). Mixed into
    :class:`pipelines.runner.Runner`, whose ``pipeline``, ``output``, ``store``,
    ``progress``, ``workers``, ``dedup_against``, ``codecs``, ``skipped``, ``head_taken``
    and ``_preloads`` it uses."""

    def _post(self, kept: list[ClipRecord], rejects: list[RejectRecord], walls: dict[str, float]):
        """The clips restored into ``work/clips`` (:func:`restore_work`; lost ones become
        rows in ``rejects``) and the post stages run on them: ``(kept, post stages' reject
        rows, shard infos or None)``. When the post stages load no model and read no frame
        sample, they run first, and a run whose records and shards would be the output's
        own keeps those shards (:mod:`pipelines.unchanged`; the infos come back) and
        restores nothing."""
        post = self.pipeline.post_stages()
        early = same = None
        manifest = None if any(s.uses_model for s in post) else earlier_manifest(
            self.output, self.pipeline.model_dump(mode="json"))
        if manifest is not None and not frames_needed(post, self.store.root, kept):
            t = time.perf_counter()
            early = post_phase(self.pipeline, self.store.root, self.progress, kept)
            walls["caption"] = time.perf_counter() - t
            same = kept_shards(self.output, manifest, early[0], self.pipeline.stages[-1].target_mb)
        if same is None:
            n = len(kept)
            kept = restore_work(self.pipeline, self.store, self.progress, kept, rejects, walls,
                                run=self.workers.on_workers)
            if early is None or len(kept) != n:  # (again without the clips the restore lost)
                t = time.perf_counter()
                early = post_phase(self.pipeline, self.store.root, self.progress, kept)
                walls["caption"] = time.perf_counter() - t
        return early[0], early[1], same

    def _finish(self, sources, records, rejects, stage_s, durations, walls, t0,
                done: tuple[int, int, list[str]] = (0, 0, [])) -> RunSummary:
        """Dedup ``records``, run the post stages, write shards, index, rejects, manifest
        and report; ``walls`` gets each phase's seconds; ``t0``: the command's start
        (``time.perf_counter()``); ``done``: how many of ``sources`` earlier runs had done
        (named this time, and not) and the paths this run curated. Returns the run summary."""
        t = time.perf_counter()
        # a module still importing on a preload thread would be half made for an import
        # here, and one that fails there must fail here too (a break test: a pandas that
        # failed slowly became an AttributeError at the index's write)
        for thread in self._preloads:
            thread.join()
        with parallel.workers(self.workers.calls, self.workers.cpus):  # dedup's band search and verification
            kept, duplicates = drop_duplicates(records, self.pipeline.stage("dedup"), against=self.dedup_against)
        rejects += duplicates
        walls["dedup"] = time.perf_counter() - t
        kept, post_rejects, same = self._post(kept, rejects, walls)
        rejects += post_rejects
        exits.raise_if_swallowed()  # the last chance: from here the run writes its outputs
        t = time.perf_counter()
        lease = self.store.lease
        lease.check()  # another run took the output over: it writes the index, not this one
        text = partial(caption_text, variant=self.pipeline.caption_variant())
        if same is None:
            packing(self.store.root)  # cleared once the manifest is written (pipelines/unchanged.py)
        try:
            shards = keep_shards(self.output, same) if same is not None else self.pipeline.stages[-1].write(
                kept, self.store.clip_file, self.output, text=text, pack=partial(pack_shards, workers=self.workers),
                staging=lease.owner, before_moves=lease.check)
        except OSError as exc:  # its clips or staged shards gone: a run that took over cleaned them
            if not lease.held():
                lease.check()
            raise exc
        lease.check()  # again: the packing is long, the moves and the index's put are not
        kept = sorted(kept, key=lambda r: r.clip_id)
        write_parquet(ClipRecord, kept, store.join(self.output, "index.parquet"))
        write_parquet(RejectRecord, rejects, store.join(self.output, "rejects.parquet"))
        walls["shards"] = time.perf_counter() - t
        summary = summarise(self.output, sources, durations, kept, rejects, time.perf_counter() - t0,
                            walls, stage_s, shards, self.skipped)
        summary.head_start_sources, summary.ray = self.head_taken, self.workers.ray
        summary.resumed, summary.earlier = done[0], done[1]
        summary.video_s_run = sum(durations.get(path, 0.0) for path in done[2])
        write_manifest(store.join(self.output, "manifest.json"), summary,
                       self.pipeline.model_dump(mode="json"), sources, self.codecs, self.dedup_against)
        if lease.held():  # the index names none of them now (a run that took over: its own to clean)
            remove_stale(store.join(self.output, "shards"), len(shards))
        packed(self.store.root)
        exits.stop_note(f"interrupted: the shards, index.parquet, rejects.parquet and manifest.json are complete; "
                        f"report.html is not: `vidcurate report {self.output}` writes it (the same command "
                        "does too, and removes work/clips)")
        with self.progress.step("writing report.html"):
            write_report_safely(self.output, frames=self.workers.thumbnail_frames)
        exits.raise_if_swallowed()  # an interrupt swallowed while the page was made (exit 130, not 0)
        if not self.pipeline.keep_work:  # everything is written: work/clips is a second copy
            exits.stop_note("interrupted: the run's outputs are complete, report.html too; work/clips was "
                            "being removed (the same command removes the rest)")
            with self.progress.step("removing work/clips (keep_work: false)"):
                self.store.drop_clips()
        exits.stop_note(None)  # (on a stop the note stays set: the command's stop line says it)
        return summary
