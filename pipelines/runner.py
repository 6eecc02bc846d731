"""Run a pipeline: per-source streaming phase, dedup, captioning, shards, reports.

Phases (DESIGN.md): per-source work (probe .. filter) streams through Ray Data (on a
local Ray of the run's own: the driver's local passes, :mod:`pipelines.headstart`) and is
committed per source as soon as all its clips are back (:mod:`pipelines.workstore`);
dedup then sees every committed record of the run; captioning runs on kept clips only
(:mod:`pipelines.postphase`);
shards (planned on the driver from metadata, packed by one Ray task each), then
``index.parquet``, ``rejects.parquet`` and ``manifest.json`` come last. The output is a
local folder or an fsspec URL (:mod:`curate.store`); workers write clips, frame samples
and shards to it directly and the driver handles records and reject rows only.
Re-running the same command skips committed sources. Unless the pipeline says
``keep_work: true``, ``work/clips`` is deleted once everything is written; a later run
restores what it needs from the shards (:mod:`pipelines.workstore`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from functools import partial

from curate import guard
from curate.dedup.against import check_earlier
from pipelines.commits import SourceCommits
from pipelines.config import Pipeline
from pipelines import exits
from pipelines.exits import InputNotFound, UsageError, signals_held
from pipelines.headstart import HeadStart
from pipelines.localrun import runs_without_ray, start_local_pool
from pipelines.outputs import check_output, resolved
from pipelines.pathtext import short_names
from pipelines.preload import END_IMPORTS, preload
from pipelines.progress import Progress
from pipelines.raytasks import Workers, ray_workers
from pipelines.report import RunSummary
from pipelines.sources import scan_inputs
from pipelines.resources import fit_to_cluster, leave_room_for_tasks
from pipelines.runend import RunEnd
from pipelines.rows import PassSteps, largest_first, loads, source_weights
from pipelines.workstore import WorkStore

# Ray and Ray Data (1-2 s of imports on a 2-core machine) are imported by Runner.run once
# the head start has begun (pipelines/headstart.py), not with this module: the head
# start's sandbox child then decodes while the driver imports them.

def _ray_running() -> bool:
    """Whether this process is connected to a Ray (without importing Ray when it is not)."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


class Runner(RunEnd):
    """Runs one pipeline over inputs into an output folder (see module docstring); the
    run's end (dedup, post stages, shards, index, manifest, report) is :class:`pipelines.runend.RunEnd`."""

    def __init__(self, pipeline: Pipeline, inputs: list[str], output: str, progress: bool = True,
                 dedup_against: list[str] | None = None):
        self.pipeline, self.inputs, self.output = pipeline, inputs, check_output(output)
        self.progress = Progress(enabled=progress)
        self.dedup_against = [resolved(p) for p in dedup_against or []]  # rows and manifest name them whole
        try:
            check_earlier(self.dedup_against, self.output)  # an error now, not after the per-source phase
        except FileNotFoundError as exc:
            raise InputNotFound(str(exc)) from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.dedup_against and pipeline.stage("dedup") is None:
            raise UsageError("--dedup-against needs a dedup stage in the pipeline")
        extract = pipeline.stages[2]
        self.settings = extract.clip_settings()
        self.codecs = extract.codecs()  # resolved once, here: a GPU codec that cannot be used is said now
        per_source = pipeline.stages[:2] + pipeline.clip_stages()
        self.store = WorkStore(self.output, {s.name: s.settings() for s in per_source})
        self.steps = PassSteps(pipeline.stages[0], pipeline.stages[1], pipeline.clip_stages(), self.settings)
        self.commits = SourceCommits(self.store, self.progress)
        self._preloads: list[threading.Thread] = []  # joined before the run's end uses what they import
        self.head_taken = 0  # sources the head start took (pipelines/headstart.py)
        self.workers: Workers | None = None  # where the driver's calls run, once known (run)

    def _source_phase(self, todo: list[str], head: HeadStart | None = None, total: int | None = None,
                      weights: dict[str, float] | None = None) -> None:
        """Ray's share of the sources (``todo``), then the head start's last source;
        ``total``: sources in the phase, the head start's included (default ``len(todo)``);
        ``weights``: each source's share of the work, for the time left shown."""
        ds = None
        if todo:  # Ray Data's share: none with local passes (a run without Ray imports no Ray)
            from pipelines.plan import source_plan  # noqa: PLC0415 - Ray Data, imported by run()

            ds = source_plan(todo, self.store.root, self.steps)
        self.progress.start("sources", len(todo) if total is None else total,
                            since=head.started_at if head is not None else None, weights=weights)
        rows = iter(ds.iter_rows()) if ds is not None else iter(())
        try:  # the bar stops (drawn for the last time) before any Ctrl-C or error message is printed
            self.commits.report()
            for row in rows:
                self.commits.add(loads(row["task"]))
                self.commits.report()
                exits.raise_if_swallowed()
            if head is not None:  # sources it commits show as they finish (the local passes: all of them)
                while not head.wait(0.25):
                    self.commits.report()
                    exits.raise_if_swallowed()
                head.join()
            self.commits.report()
        except BaseException:  # (a Ctrl-C, SIGTERM or error) no source lands after the stop line, which counts
            with exits.signals_held():  # them all: sources finishing meanwhile had been kept but not counted
                self.commits.close()
                self.commits.report()
            raise
        finally:
            self.progress.stop("sources")
            if ds is not None:
                from pipelines.session import stop_row_iteration  # noqa: PLC0415

                stop_row_iteration(rows)

    def _preflight(self) -> None:
        """Each stage's :meth:`curate.stage.Stage.preflight` on this machine, before any work
        (a caption model that cannot load stops the run now, not after every source). A
        stage asking for more GPUs than this machine shows is left to Ray's resource check,
        which names every such stage (exit code 7)."""
        gpus = None
        for stage in self.pipeline.stages:
            if stage.resources.gpus:
                if gpus is None:
                    import torch  # noqa: PLC0415 - only for pipelines with GPU stages

                    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
                if gpus < stage.resources.gpus:
                    continue
            stage.preflight()

    def _head_start(self, todo: list[str], address: str | None) -> HeadStart | None:
        """A started :class:`pipelines.headstart.HeadStart` when this run starts a local
        Ray and its steps can run here; else None."""
        if address or not todo or _ray_running() or not self.pipeline.ray.head_start \
                or not self.steps.local_ok():
            return None
        return HeadStart(self.steps, self.store.root, largest_first(todo), self.commits.deliver,
                         keep_all=self.pipeline.ray.local_passes).start()

    def _halt(self, head: HeadStart) -> None:
        """What a Ctrl-C or SIGTERM while Ray starts does at once (the run ends once Ray is
        up): no commit from then on, and the head start's work stops, its children killed."""
        self.commits.close()  # first: the source in hand must not land as a reject row
        head.halt()

    @staticmethod
    def _hand_over(head: HeadStart | None, todo: list[str]) -> set[str]:
        """Once Ray is up: the sources the driver keeps (Ray Data gets the rest of ``todo``).
        Local passes keep all of them, on one thread per CPU of the Ray; a head start
        stops taking sources and keeps those it took."""
        if head is None:
            return set()
        if head.keep_all:
            import ray  # noqa: PLC0415 - imported by run()

            head.grow(max(1, int(ray.cluster_resources().get("CPU", 1))))
            return set(todo)
        return set(head.stop())

    def run(self, address: str | None = None, started_at: float | None = None) -> RunSummary:
        """Execute all phases and write the output folder. Returns the run summary.
        ``started_at``: ``time.time()`` when the command started (its start-up counts in
        the summary's wall time); default now."""
        t0 = time.perf_counter() - (time.time() - started_at if started_at else 0.0)
        # A SIGTERM stops the run as a Ctrl-C does (exit 143) from here on, before Ray is up
        # too: the head start's children are stopped, not left to write on their own. Between
        # pieces of work, exits.raise_if_swallowed raises again one that an import swallowed.
        exits.watch_interrupts()
        with self.progress.step("scanning inputs"):
            scanned = scan_inputs(self.inputs, exclude=self.output)  # sources, files skipped as not videos
        exits.raise_if_swallowed()
        sources, self.skipped = scanned.sources, scanned.skipped
        if address is None and not os.environ.get("RAY_ADDRESS"):  # this machine does the work: check it
            self._preflight()
            exits.raise_if_swallowed()
        walls: dict[str, float] = {}
        started = False
        try:
            with self.store, self.commits.closing():  # the lock first: a busy folder fails before Ray starts
                for commit in self.store.drop_damaged(sources):  # cut short or emptied: curated again
                    print(f"warning: {commit} is damaged (cut short or not a commit): curating its source again",
                          file=sys.stderr)
                grown = self.store.changed(sources)  # curated while still being copied: again
                for path, (before, now) in grown.items():
                    what = (f"is {now[0]} bytes, {before[0]} when it was curated" if now[0] != before[0]
                            else "was modified since it was curated")
                    print(f"warning: {path} {what}: curating it again", file=sys.stderr)
                todo = [s for s in sources if s in grown or not self.store.done(s)]
                self.commits.names = short_names(sources)
                if len(todo) < len(sources):  # the bar counts this run's sources only: say why
                    self.progress.note(f"resuming: {len(sources) - len(todo)} of {len(sources)} sources were done "
                                       f"by an earlier run; {len(todo)} to curate")
                if runs_without_ray(self.pipeline, address, _ray_running()):
                    return self._run_here(sources, todo, walls, t0)
                head = self._head_start(todo, address)
                if head is None:  # a child the CLI prestarted for it would sit idle all run
                    guard.close_all()
                try:
                    # Ray and Ray Data are imported now, while the head start's child decodes
                    import ray.data  # noqa: F401, PLC0415 - the plans' imports, before Ray is up

                    from pipelines.lean import local_data_services  # noqa: PLC0415
                    from pipelines.session import init_ray, owns_local_ray  # noqa: PLC0415

                    exits.raise_if_swallowed()  # (one that came while Ray was imported)

                    with self.progress.step(f"joining Ray at {address}" if address else "starting Ray"):
                        # SciPy's graph code (curate.dedup.groups.components, 0.3 s on 2 cores) is
                        # imported while Ray starts, not with the config the head start waits for
                        self._preloads.append(preload("scipy.sparse.csgraph"))
                        started = init_ray(address, self.pipeline.ray.num_cpus,
                                           on_signal=partial(self._halt, head) if head is not None else None)
                    exits.raise_if_swallowed()  # (one that came while Ray started)
                    taken = self._hand_over(head, todo)
                    self.head_taken = len(taken)
                    self.workers = ray_workers()
                    with local_data_services(enabled=owns_local_ray()):  # its own Ray: no dashboard, no autoscaler
                        summary = self._phases(sources, todo, taken, head, address, walls, t0)
                except BaseException:
                    if head is not None:  # before the lease goes: nothing of it may land after
                        self.commits.close()  # its source in hand ends in an error row: not kept
                        head.cancel()
                    raise
        finally:
            if started:
                from pipelines.session import shutdown_ray  # noqa: PLC0415 - imported by the start

                shutdown_ray()
        return summary

    def _run_here(self, sources: list[str], todo: list[str], walls: dict[str, float], t0: float) -> RunSummary:
        """The whole run without Ray (:mod:`pipelines.localrun`): local passes on one thread
        per CPU, whose sandbox children then run the driver's calls (dedup, shard packing,
        report thumbnails, restoring work files)."""
        head, self.workers = start_local_pool(self.pipeline, self.steps, self.store.root, todo, self.commits.deliver)
        self.head_taken = len(todo)
        finished = False
        try:
            summary = self._phases(sources, todo, set(todo), head, None, walls, t0)
            finished = True
            return summary
        finally:
            if not finished:  # failing or interrupted: a second Ctrl-C must not skip the cancel
                with signals_held():
                    self.commits.close()  # before the lease goes: the source in hand is not committed
                    head.cancel()
            head.close()

    def _phases(self, sources, todo, taken, head, address, walls, t0) -> RunSummary:
        """Everything after Ray is up (or at once, without Ray): the per-source phase (Ray's
        share of ``todo``, the head start's sources), then dedup, captions, shards and reports."""
        walls["startup"] = time.perf_counter() - t0  # command start to Ray ready (without Ray: the passes' start)
        if self.workers.ray:
            import ray  # noqa: PLC0415 - imported by run()

            from pipelines.visibility import check_inputs_seen, check_output_seen  # noqa: PLC0415

            nodes = ray.nodes()
            plans = [self.pipeline.stages[:2] + self.pipeline.clip_stages(), self.pipeline.post_stages()]
            for line in fit_to_cluster(self.pipeline.stages, nodes) + leave_room_for_tasks(plans, nodes):
                print(f"warning: {line}", file=sys.stderr)  # before any work
            if address:  # joined a cluster: every node must see a local output folder and local sources
                check_output_seen(self.output, self.store.lease.location)
                check_inputs_seen(todo)
        if todo:  # imports the end of the run needs, while the sources run (module docstring)
            self._preloads.append(
                preload(*END_IMPORTS, *(["scipy.sparse.csgraph"] if self.pipeline.stage("dedup") else [])))
            t = time.perf_counter()
            self._source_phase([s for s in todo if s not in taken], head, len(todo), source_weights(todo))
            walls["per_source"] = time.perf_counter() - t
        exits.raise_if_swallowed()
        earlier = self.store.earlier_sources(sources)  # committed before, not named this time: kept
        records, rejects, stage_s, durations = self.store.load(sources + earlier)
        return self._finish(sources + earlier, records, rejects, stage_s, durations, walls, t0,
                            done=(len(sources) - len(todo), len(earlier), todo))


def run_pipeline(pipeline: Pipeline, inputs: list[str], output: str, address: str | None = None,
                 progress: bool = True, dedup_against: list[str] | None = None,
                 started_at: float | None = None) -> RunSummary:
    """Run ``pipeline`` over ``inputs`` (files, folders, globs; :class:`pipelines.sources.InputList`
    for list files: the input rule is in :mod:`pipelines.sources`) into ``output``.

    Starts a local Ray unless one is running or ``address`` names a cluster. Raises
    ValueError when no input is found and :class:`pipelines.workstore.OutputInUseError`
    when another live run holds the output's lease or it holds work made with other settings.
    ``output`` is a local folder or an fsspec URL (:mod:`curate.store`).
    ``dedup_against``: earlier runs (folders or ``index.parquet`` paths, local or fsspec
    URLs) whose clips new clips must not duplicate (:mod:`curate.dedup.against`); a path
    without an index raises FileNotFoundError before any work. ``started_at``:
    ``time.time()`` when the command started (default: now), so the summary's wall time
    includes start-up (imports, Ray). An empty ``output`` raises
    :class:`pipelines.exits.UsageError` (it would have meant the current folder).
    """
    if not str(output).strip():
        raise UsageError(f"--output: {exits.EMPTY_OUTPUT}")
    return Runner(pipeline, inputs, output, progress, dedup_against).run(address, started_at)
