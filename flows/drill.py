"""Drill flow: per seed a clean signed dataset, then the cells as Prefect tasks (one per attack, rate
and seed; a thread pool or a Dask cluster), then the report."""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from labelguard.flows._prefect import artifact_key, publish, step_task
from labelguard.tasks import drill, drill_report
from labelguard.tasks.manifest import generate_keypair

load_data = step_task(drill.load_data, name="load-data")
prepare_seed = step_task(drill.prepare_seed, name="prepare-seed")
run_chunk = step_task(drill.run_chunk, name="drill-cells", task_run_name="{units[0][attack]}-{units[0][rate]}-seed{units[0][seed]}")
certificate = step_task(drill.certificate, name="certificate")
write_report = step_task(drill_report.write_drill_report, name="write-report")

# The CLI's progress bar listens here; a flow parameter cannot carry a callable.
ON_CELLS: list[Callable[[int, int], None]] = []


def task_runner(workers: int = 1, dask: str | None = None, processes: bool | None = None):
    """The drill's task runner: Prefect's process pool or thread pool with ``workers`` workers, or a Dask cluster.

    ``dask`` is ``None`` (this machine's pool), ``"local"`` (a local cluster of ``workers`` processes
    with one thread each, no dashboard) or a scheduler address from ``tasks.cluster.parse_dask_address``.
    Without Dask the cells run in ``workers`` processes (``processes``, the default when ``workers``
    is above 1) or threads of this process (the default for one worker: nothing to spawn).
    """
    if dask is None:
        if processes is None:
            processes = workers > 1
        if not processes:
            return ThreadPoolTaskRunner(max_workers=workers)
        return _process_pool()(max_workers=workers, initializer=drill.init_worker, initargs=(drill.registry_snapshot(),))
    from prefect_dask import DaskTaskRunner

    if dask == "local":
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None})
    return DaskTaskRunner(address=dask)


@functools.lru_cache(maxsize=None)
def _process_pool():
    """Prefect's process pool, forwarding its workers' events in the flow's context.

    The pool forwards events from its worker processes in a thread of its own, which does not
    inherit the flow's settings context (a ``temporary_settings`` API URL, as the drill and Prefect's
    test harness set): there Prefect found no API and started another ephemeral server. The thread
    now runs in a copy of the context the runner was entered in.
    """
    import contextvars

    from prefect.task_runners import ProcessPoolTaskRunner

    class DrillProcessPool(ProcessPoolTaskRunner):
        def __enter__(self):
            self._entered_context = contextvars.copy_context()
            return super().__enter__()

        def _forward_subprocess_messages(self) -> None:
            forward = super()._forward_subprocess_messages
            return self._entered_context.run(forward)

    return DrillProcessPool


def _runner_kind() -> str:
    """``threads``, ``processes`` or ``dask``: the running flow's task runner."""
    from prefect.context import FlowRunContext

    name = type(getattr(FlowRunContext.get(), "task_runner", None)).__name__
    return {"DaskTaskRunner": "dask", "DrillProcessPool": "processes", "ProcessPoolTaskRunner": "processes"}.get(name, "threads")


def _dask_client():
    """The running Dask task runner's client (starting its cluster), or None on another runner.

    A local cluster's worker processes are started with Ctrl-C ignored (an ignored signal stays
    ignored in a spawned process): Ctrl-C is the drill's to handle, which cancels the pending tasks
    and keeps the finished cells, rather than each worker dying with a traceback. The workers get
    this process's attack, guard, model and transform registries (entries registered at runtime
    do not exist in a fresh process).
    """
    import signal
    import threading

    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    runner = getattr(ctx, "task_runner", None)
    if runner is None or type(runner).__name__ != "DaskTaskRunner":
        return None
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        client = runner.client
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    client.register_plugin(_registry_plugin(drill.registry_snapshot()))
    return client


def _registry_plugin(snapshot: bytes):
    from distributed.diagnostics.plugin import WorkerPlugin

    class DrillRegistries(WorkerPlugin):
        name = "labelguard-drill-registries"

        def __init__(self, snapshot: bytes) -> None:
            self.snapshot = snapshot

        def setup(self, worker) -> None:
            drill.install_registries(self.snapshot)

    return DrillRegistries(snapshot)


def _pool_size() -> int:
    from prefect.context import FlowRunContext

    return int(getattr(FlowRunContext.get().task_runner, "_max_workers", None) or 1)


def _collect(futures: dict, plan: drill.DrillPlan, stop_flag: str, poll: float = 0.2):
    """Yield each finished task's cells as it finishes. On a stop (:data:`drill.STOP`, set by the
    CLI's Ctrl-C handler) the stop flag file is created, every task not started is cancelled and the
    ones in flight are drained (their finished units are kept; their units not started are skipped).
    A task that fails as a whole (a worker process died) yields its units as errored cells."""
    remaining = dict(futures)
    stopping = False
    while remaining:
        if drill.STOP.is_set() and not stopping:
            stopping = True
            Path(stop_flag).touch()
            for fut in list(remaining):
                if fut.wrapped_future.cancel():
                    del remaining[fut]
        ready = [f for f in remaining if f.wrapped_future.done()]
        if not ready:
            time.sleep(poll)
            continue
        for fut in ready:
            units = remaining.pop(fut)
            if fut.wrapped_future.cancelled():
                continue
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost task is reported per cell, not fatal
                if stopping:
                    continue
                message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                yield [{**u, "model": m, "error": message} for u in units for m in plan.models]


def _progress(done: int, total: int, artifact_id) -> None:
    from prefect.artifacts import update_progress_artifact

    if artifact_id is not None:
        update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / max(1, total))
    for hook in ON_CELLS:
        hook(done, total)


@flow(name="labelguard-drill", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def drill_flow(plan: drill.DrillPlan, out_dir: Path, store_uri: str | None = None, endpoint_url: str | None = None, command_started: float | None = None) -> dict[str, Any]:
    """Run a drill and write report.json, report.md and report.html into ``out_dir``.

    Finished cells are appended to ``out_dir/cells.jsonl`` as they complete, so an interrupted
    drill keeps them and ``--resume`` runs only the rest. The store is ``store_uri`` (default a
    local store under ``out_dir/store``); every run writes under a fresh prefix (datasets are
    create-only). A throwaway Ed25519 key pair is made outside the store and removed at the end.
    ``command_started`` (epoch seconds, ``time.time()``) is when the command that runs the flow
    started: the report then gives the command's wall time up to it beside the flow's own.
    """
    from prefect.artifacts import create_progress_artifact
    from threadpoolctl import threadpool_limits

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / drill.PLAN_FILE).write_text(json.dumps(plan.to_dict(), indent=1))
    done = drill.read_cells(out_dir)
    pending = list(drill.iter_pending(plan, done))
    total_units = len(plan.units())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{time.monotonic_ns() % 100000:05d}"
    store_root = f"{(store_uri or str(out_dir / 'store')).rstrip('/')}/run-{stamp}"
    progress_id = create_progress_artifact(progress=100.0 * (total_units - len(pending)) / max(1, total_units), key=artifact_key("labelguard-drill-progress"), description="Drill cells done")
    started = time.perf_counter()
    # one BLAS/OpenMP thread per fit: the drill's parallelism is across cells, and many small fits
    # with several threads each ran 3-20x slower on 2 shared cores (measured; bench/RESULTS.md)
    with threadpool_limits(1), tempfile.TemporaryDirectory(prefix="labelguard-drill-") as tmp:
        signing, verify = generate_keypair(Path(tmp) / "keys")
        data = load_data(plan)
        setups = {s: prepare_seed(data, plan, s, store_root, signing, Path(tmp) / "work", endpoint_url) for s in plan.seeds if any(u["seed"] == s for u in pending) or s == plan.seeds[0]}
        client, kind = _dask_client(), _runner_kind()
        stop_flag = str(Path(tmp) / "stop")  # created on Ctrl-C: units in other processes see it
        if kind == "dask":  # each seed's frames go to every worker once, not with every task
            shared, cache = {s: client.scatter(setup, broadcast=True, hash=False) for s, setup in setups.items()}, None
        elif kind == "processes":  # a path per seed: each worker process reads the frames once
            shared, cache = {s: drill.SeedRef.save(setup, Path(tmp) / f"seed-{s}.pickle") for s, setup in setups.items()}, None
        else:  # threads of this process share the frames and one content-guard cache
            shared, cache = setups, drill.ContentCache()
        t_cells = time.perf_counter()
        chunks = drill.chunk_units(pending)
        futures = {
            run_chunk.submit(units, shared[units[0]["seed"]], plan, signing_key=signing, verify_key=verify, endpoint_url=endpoint_url,
                             content_cache=cache, stop_flag=stop_flag): units
            for units in chunks
        }
        finished = total_units - len(pending)
        _progress(finished, total_units, progress_id)
        with open(out_dir / drill.CELLS_FILE, "a") as log:
            for cells in _collect(futures, plan, stop_flag):
                for c in cells:
                    log.write(json.dumps(c, default=drill_report.json_default) + "\n")
                log.flush()
                done.extend(cells)
                finished += len({drill.unit_key(c) for c in cells})  # units a stop left unstarted have no cells
                _progress(finished, total_units, progress_id)
        if drill.STOP.is_set():
            raise drill.DrillInterrupted(f"drill stopped: {finished} of {total_units} units finished, kept in {out_dir / drill.CELLS_FILE}", "rerun with the same options and --resume to continue")
        timing = {"setup": t_cells - started, "cells_wall": time.perf_counter() - t_cells, "units": len(pending), "tasks": len(chunks),
                  "runner": f"dask {client.scheduler.address}" if kind == "dask" else kind,
                  "workers": len(client.scheduler_info(n_workers=-1)["workers"]) if kind == "dask" else _pool_size()}
        # Prefect's per-task overhead: the loop's wall time beyond the units' own time (one worker)
        ran = {drill.unit_key(u) for u in pending}
        own = {drill.unit_key(c): (c["seconds"], c.get("cpu_seconds", 0.0)) for c in done if "seconds" in c and drill.unit_key(c) in ran}
        timing["units_own"] = sum(w for w, _ in own.values())
        timing["units_cpu"] = sum(c for _, c in own.values())
        t_cert = time.perf_counter()
        certs = [certificate(setups[plan.seeds[0]], plan, m) for m in plan.models]
        panels = drill_report.decision_panels(setups[plan.seeds[0]], plan, done)
    timing["certificate_and_panels"] = time.perf_counter() - t_cert
    seconds = time.perf_counter() - started
    command_seconds = None if command_started is None else time.time() - command_started
    paths = write_report(done, certs, plan, out_dir, panels=panels, seconds=seconds, data_source=data.source, timing=timing, command_seconds=command_seconds)
    summary = drill_report.summarize(done, certs, plan)
    publish("labelguard-drill", drill_report.render_markdown(summary, plan, plots=None), table=drill_report.summary_table(done), description="Drill scorecard")
    from prefect.artifacts import create_link_artifact

    create_link_artifact(link=paths["html"].resolve().as_uri(), link_text="drill report (HTML)", key=artifact_key("labelguard-drill-report"))
    return {"paths": paths, "summary": summary, "cells": done, "certificates": certs, "seconds": seconds, "store": store_root, "timing": timing}


def run_drill(plan: drill.DrillPlan, out_dir: Path, *, workers: int = 1, dask: str | None = None, processes: bool | None = None,
              store_uri: str | None = None, endpoint_url: str | None = None, command_started: float | None = None) -> dict[str, Any]:
    """Run :func:`drill_flow` on the task runner chosen by ``workers``, ``dask`` and ``processes`` (see :func:`task_runner`).

    When no Prefect API is configured (Prefect's ephemeral mode) the ephemeral server is started
    here, in its own session, and its URL set for the flow: worker processes (a process pool or a
    Dask cluster) report to it instead of each starting one, and a Ctrl-C at the terminal (SIGINT to
    the foreground process group) does not shut it down under the drill that is stopping.
    """
    import os

    from prefect.settings import PREFECT_API_URL, temporary_settings

    runner = task_runner(workers, dask, processes)
    run = drill_flow.with_options(task_runner=runner)
    url = PREFECT_API_URL.value()
    if not url:
        from labelguard.server import start_detached_api

        url = start_detached_api()
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # a local cluster's worker processes inherit it
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                return run(plan=plan, out_dir=out_dir, store_uri=store_uri, endpoint_url=endpoint_url, command_started=command_started)
            finally:
                _drain_prefect()
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def _drain_prefect(timeout: float = 10.0) -> None:
    """Send the logs and events still queued (a stopped drill's last ones) while the API URL is set:
    a worker that sends them later, outside the settings, would start another ephemeral server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout, at_exit=False)
