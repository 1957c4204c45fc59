"""`labelguard drill`: the attack × guard scorecard on the user's data, as plain steps (no Prefect).

A drill is a grid of cells (attack × rate × seed × model × vector). Each cell runs the real
path: the clean data is signed into a store, the attack goes in through its vector (a compromised
transform, an edit of the stored objects at rest, or a file poisoned before it is ingested), the
stored data is verified and every guard runs on what the pipeline would train on, then each model
is trained and scored on the trusted holdout. Clean controls (no attack) per seed and vector give
the false-alarm rate. Guards do not depend on the model, so one guard run serves every model of a
cell; the content guards are pure functions of the rows they see, so vectors that deliver the same
rows share one content-guard run (keyed by a digest of the rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from labelguard.errors import BadInput, UnknownName
from labelguard.tasks.manifest import ColumnSpec, to_py

# Set by the CLI's Ctrl-C handler: units not started yet return at once, the flow stops after the
# units in flight and keeps every finished cell (a flag, because an orchestrator may swallow
# KeyboardInterrupt in its worker threads: observed with Prefect's thread pool).
STOP = threading.Event()


class DrillInterrupted(BadInput):
    """The drill was stopped (Ctrl-C) with finished cells kept in ``--out``."""


VECTORS = ("transform", "at-rest", "source")
DEFAULT_RATES = (0.01, 0.05, 0.1, 0.2, 0.4)
CLEAN = "clean"  # the attack name of a clean control
MATERIAL_POINTS = 2.0  # damage worth catching: accuracy or a class's predicted share moved this many points
PLAN_FILE, CELLS_FILE = "plan.json", "cells.jsonl"


@dataclass(frozen=True)
class DrillPlan:
    """What a drill runs; everything in it is validated before anything heavy starts."""

    attacks: tuple[str, ...]
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    models: tuple[str, ...]
    vectors: tuple[str, ...]
    data: str = "synthetic"
    rows: int = 5000
    holdout_fraction: float = 0.2
    partitions: int | None = None
    tolerate: float = 0.2
    reader: dict[str, Any] = field(default_factory=dict)  # id_col, label_col, timestamp_col, delimiter, ...

    def units(self) -> list[dict[str, Any]]:
        """Units of work: one guard run each (every model is trained inside it). Controls first."""
        controls = [{"attack": CLEAN, "rate": 0.0, "seed": s, "vector": v} for s in self.seeds for v in self.vectors]
        attacked = [
            {"attack": a, "rate": r, "seed": s, "vector": v}
            for a in self.attacks for r in self.rates for s in self.seeds for v in self.vectors
        ]
        return controls + attacked

    def cell_count(self) -> int:
        return len(self.units()) * len(self.models)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=to_py))


def unit_key(unit: dict[str, Any]) -> str:
    return f"{unit['attack']}|{unit['rate']:g}|{unit['seed']}|{unit['vector']}"


def parse_list(value: str | None, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise BadInput(f"--{what} is empty", f"name at least one, comma-separated (see `labelguard list`)")
    return items


def plan_drill(
    *,
    attacks: list[str] | None = None,
    rates: list[float] | None = None,
    seeds: int = 2,
    models: list[str] | None = None,
    vectors: list[str] | None = None,
    data: str = "synthetic",
    rows: int = 5000,
    holdout_fraction: float = 0.2,
    partitions: int | None = None,
    tolerate: float = 0.2,
    reader: dict[str, Any] | None = None,
) -> DrillPlan:
    """Validate a drill's options and return its plan.

    Raises
    ------
    BadInput
        An unknown attack, model or vector; a rate outside [0, 1]; fewer than one seed; a holdout
        fraction outside (0, 1); too few rows for the holdout and the certificate's partitions.
    """
    from labelguard.tasks import attacks as attack_lib
    from labelguard.tasks.certify import check_partitions, default_partitions
    from labelguard.tasks.train import REGISTRY as MODELS, check_model

    names = list(attack_lib.REGISTRY) if attacks is None else attacks
    for a in names:
        attack_lib.get_attack(a)
    rate_list = list(DEFAULT_RATES) if rates is None else rates
    for r in rate_list:
        attack_lib.check_rate(r)
    model_list = list(MODELS) if models is None else models
    for m in model_list:
        check_model(m)
    vector_list = list(VECTORS) if vectors is None else vectors
    for v in vector_list:
        if v not in VECTORS:
            raise UnknownName("vector", v, list(VECTORS))
    if seeds < 1:
        raise BadInput(f"--seeds must be at least 1, got {seeds}", "pass e.g. --seeds 2")
    if not 0 < holdout_fraction < 1:
        raise BadInput(f"--holdout-fraction must be in (0, 1), got {holdout_fraction}", "pass e.g. --holdout-fraction 0.2")
    if data == "synthetic":
        n_train = int(rows - round(holdout_fraction * rows))
        if rows < 100:
            raise BadInput(f"--rows must be at least 100 for a holdout and a drill, got {rows}", "pass e.g. --rows 5000")
        check_partitions(n_train, partitions or default_partitions(n_train))
    elif partitions is not None and partitions < 2:
        check_partitions(10**9, partitions)
    if not 0 < tolerate < 1:
        raise BadInput(f"--tolerate must be in (0, 1), got {tolerate}", "pass e.g. --tolerate 0.2")
    dedup = lambda xs: tuple(dict.fromkeys(xs))  # noqa: E731
    return DrillPlan(
        attacks=dedup(names), rates=dedup(float(r) for r in rate_list), seeds=tuple(range(seeds)), models=dedup(model_list),
        vectors=dedup(vector_list), data=data, rows=rows, holdout_fraction=holdout_fraction, partitions=partitions,
        tolerate=tolerate, reader=dict(reader or {}),
    )


def check_out_dir(out: Path, plan: DrillPlan, *, resume: bool = False) -> list[dict[str, Any]]:
    """Check ``--out`` without writing to it; return the finished cells of a resumed drill.

    Raises
    ------
    BadInput
        ``out`` is a file, not writable, already holds another drill (without ``--resume``), or
        (with ``--resume``) holds a drill of another configuration.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file", "pass a directory for the drill's reports")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out} is not writable", "pass a directory you can write to")
    plan_path = out / PLAN_FILE
    if not resume:
        if out.exists() and any(out.iterdir()):
            raise BadInput(f"--out {out} is not empty", "pass a new directory, or --resume to continue the drill there")
        return []
    if not plan_path.is_file():
        raise BadInput(f"--resume: no drill at {out} (no {PLAN_FILE})", "drop --resume to start a new drill there")
    try:
        saved = json.loads(plan_path.read_text())
    except (OSError, ValueError):
        raise BadInput(f"--resume: {plan_path} is unreadable", "start a new drill in a new --out") from None
    if saved != plan.to_dict():
        differ = sorted(k for k in plan.to_dict() if saved.get(k) != plan.to_dict()[k])
        raise BadInput(f"--resume: the drill at {out} has another configuration ({', '.join(differ)} differ)", "resume with the same options, or start a new drill in a new --out")
    return read_cells(out)


def read_cells(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / CELLS_FILE
    if not path.is_file():
        return []
    cells = []
    for line in path.read_text().splitlines():
        try:
            cells.append(json.loads(line))
        except ValueError:  # a line cut short by Ctrl-C: that unit runs again
            continue
    return cells


# ------------------------------------------------------------------ data and the per-seed setup


@dataclass
class Dataset:
    """The user's data, validated, with its column spec."""

    frame: pd.DataFrame
    spec: ColumnSpec
    source: dict[str, Any]


def load_data(plan: DrillPlan) -> Dataset:
    """Read and validate the drill's data (synthetic reviews, or a CSV/Parquet path/URI) once."""
    from labelguard.tasks.sources import load_source

    reader = dict(plan.reader)
    frame, spec, meta = load_source(plan.data, rows=plan.rows, seed=0, **reader)
    n_train = len(frame) - int(round(plan.holdout_fraction * len(frame)))
    from labelguard.tasks.certify import check_partitions, default_partitions

    if len(frame) < 50:
        raise BadInput(f"{len(frame)} rows are too few for a drill", "use at least 50 labelled rows")
    check_partitions(n_train, plan.partitions or default_partitions(n_train))
    return Dataset(frame, spec, meta)


@dataclass
class SeedSetup:
    """One seed's clean, signed dataset in the store and what every cell of that seed shares."""

    seed: int
    spec: ColumnSpec
    train: pd.DataFrame  # clean training rows, in the order the pipeline sees them
    holdout: pd.DataFrame  # trusted holdout (also the reference of the statistical guards)
    clean_uri: str
    work: Path  # local scratch for truth files and source files (never in the store)
    clean_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model


def prepare_seed(data: Dataset, plan: DrillPlan, seed: int, store_uri: str, signing_key: Path, work: Path, endpoint_url: str | None = None) -> SeedSetup:
    """Split off a stratified trusted holdout, write both parts signed into ``store_uri/seed-S/clean``,
    and train the clean baseline of every model (shared by every cell of this seed)."""
    from labelguard.tasks.classes import with_positive
    from labelguard.tasks.dataset import HOLDOUT, write_dataset
    from labelguard.tasks.features import with_featurizer
    from labelguard.tasks.manifest import DatasetRef, load_signing_key, new_dataset_id
    from labelguard.tasks.sources import split_holdout
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.train import evaluate, train_model
    from labelguard.tasks.transforms import preprocess

    key = load_signing_key(signing_key)
    train, holdout = split_holdout(data.frame, data.spec, plan.holdout_fraction, seed)
    # stored in the order the pipeline's preprocessing yields, so every vector attacks the same rows
    train = preprocess(train, data.spec)
    uri = f"{store_uri.rstrip('/')}/seed-{seed}/clean"
    store = open_store(uri, endpoint_url=endpoint_url)
    ds = new_dataset_id(uri)
    write_dataset(store.child(HOLDOUT), holdout, data.spec, key, source={**data.source, "part": "holdout"}, dataset=DatasetRef(ds, role="holdout", part=HOLDOUT))
    write_dataset(store, train, data.spec, key, source={**data.source, "part": "train"}, dataset=DatasetRef(ds, role="data"))
    spec = with_featurizer(with_positive(data.spec), train, holdout)
    setup = SeedSetup(seed, spec, train, holdout, uri, Path(work) / f"seed-{seed}")
    setup.work.mkdir(parents=True, exist_ok=True)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        for model in plan.models:
            setup.clean_metrics[model] = with_per_class(evaluate(train_model(train, spec, model=model, seed=seed), holdout, spec))
    return setup


def with_per_class(metrics: dict[str, Any]) -> dict[str, Any]:
    """Add precision, recall and F1 of every class (from the confusion matrix) to evaluate()'s metrics."""
    cm = np.asarray(metrics["confusion_matrix"], dtype=float)
    per = {}
    for i, c in enumerate(metrics["classes"]):
        tp, pred, true = cm[i, i], cm[:, i].sum(), cm[i, :].sum()
        p = tp / pred if pred else 0.0
        r = tp / true if true else 0.0
        per[str(c)] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    return {**metrics, "per_class": per}


# ------------------------------------------------------------------ cells the data cannot hold


@dataclass(frozen=True)
class Beyond:
    """An attacked cell the data cannot hold: ``budget`` flips needed of ``rows`` training rows, ``most`` possible."""

    most: int
    limit: Any  # the class that limits it
    budget: int
    rows: int

    def __str__(self) -> str:
        return f"only {self.most} rows of class {to_py(self.limit)!r}, {self.budget} flips needed"


def not_applicable(unit: dict[str, Any], train: pd.DataFrame, spec: ColumnSpec) -> Beyond | None:
    """Why ``unit``'s attack cannot spend its exact flip budget on these training rows, or None.

    An attack that declares a ``capacity`` (``targeted``: the rows of its source class) and whose
    budget ``round(rate × rows)`` is above it would refuse in every vector (the three vectors flip the
    same training rows), so the cell is reported as not applicable, e.g. ``only 81 rows of class
    'platinum', 96 flips needed``, instead of being run into an error.
    """
    if unit["attack"] == CLEAN:
        return None
    from labelguard.tasks.attacks import get_attack
    from labelguard.tasks.classes import positive_class

    attack = get_attack(unit["attack"])
    if attack.capacity is None:
        return None
    labels = train[spec.label_col].to_numpy()
    most, limit = attack.capacity(labels, np.unique(np.asarray(list(spec.classes) if spec.classes else labels)), positive_class(spec))
    budget = int(round(unit["rate"] * len(train)))
    if budget <= most:
        return None
    return Beyond(most, limit, budget, len(train))


def plan_not_applicable(plan: DrillPlan, data: "Dataset") -> dict[str, Beyond]:
    """Every attacked unit of ``plan`` that :func:`not_applicable` rules out, by :func:`unit_key`, found
    before any work: each seed's training part is split off as :func:`prepare_seed` splits it."""
    from labelguard.tasks.classes import with_positive
    from labelguard.tasks.sources import split_holdout

    spec = with_positive(data.spec)
    out: dict[str, Beyond] = {}
    for seed in plan.seeds:
        train, _ = split_holdout(data.frame, data.spec, plan.holdout_fraction, seed)
        for unit in plan.units():
            if unit["seed"] == seed:
                reason = not_applicable(unit, train, spec)
                if reason:
                    out[unit_key(unit)] = reason
    return out


def refuse_when_nothing_applies(plan: DrillPlan, ruled_out: dict[str, Beyond]) -> None:
    """Refuse a drill none of whose attacked cells can run: the user asked for exactly the cells the data
    cannot hold (e.g. ``--attacks targeted --rates 0.05`` on a class of 81 rows).

    Raises
    ------
    BadInput
        Every attacked unit is in ``ruled_out``; the fix names the largest rate that works.
    """
    attacked = [u for u in plan.units() if u["attack"] != CLEAN]
    if not attacked or any(unit_key(u) not in ruled_out for u in attacked):
        return
    first = attacked[0]
    beyond = ruled_out[unit_key(first)]
    from labelguard.tasks.attacks import largest_rate

    rate = largest_rate(beyond.most, beyond.rows)
    fix = f"pass --rates {rate:g} or lower, or add an attack the data can hold" if rate > 0 else "choose attacks the data can hold"
    raise BadInput(f"no attacked cell of this drill can run: {first['attack']} at {first['rate']:g} needs {beyond.budget} flips, "
                   f"the training part holds only {beyond.most} rows of class {to_py(beyond.limit)!r}", fix)


# ------------------------------------------------------------------ one unit: attack, verify, guards, train


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over every cell of ``frame`` (column names included): equal digests, equal rows."""
    h = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


INTEGRITY_GUARDS = ("manifest", "label_contract", "schema")  # depend on how the rows arrived, run per vector


class ContentCache:
    """Content-guard results by row digest, shared by the units of a drill (thread-safe enough: a
    race computes the same pure result twice). A plain class, not a dict, so an orchestrator that
    walks task parameters looking for futures does not walk every cached suspect id."""

    def __init__(self) -> None:
        self._results: dict[str, list] = {}

    def get(self, digest: str, compute) -> list:
        if digest not in self._results:
            self._results[digest] = compute()
        return self._results[digest]

    def __len__(self) -> int:
        return len(self._results)


def stop_requested(stop_flag: str | None = None) -> bool:
    """True once the drill was asked to stop: :data:`STOP` in this process, or ``stop_flag`` (a file
    the parent creates on Ctrl-C) exists, for units running in other processes."""
    return STOP.is_set() or (stop_flag is not None and os.path.exists(stop_flag))


def run_unit(
    unit: dict[str, Any],
    setup: SeedSetup,
    plan: DrillPlan,
    *,
    signing_key: Path,
    verify_key: Path,
    endpoint_url: str | None = None,
    content_cache: ContentCache | None = None,
    stop_flag: str | None = None,
) -> list[dict[str, Any]]:
    """Run one unit (attack × rate × seed × vector) end to end and return one cell per model.

    The attack goes in through the unit's vector; the data the pipeline would train on is verified
    against its signed manifest; every registered guard runs (the trusted holdout is the reference
    and the model gate's holdout); each model of the plan is trained on that data and scored on the
    trusted holdout. An error in the unit becomes cells with ``error`` set, never an exception.
    """
    from threadpoolctl import threadpool_limits

    if stop_requested(stop_flag):
        return []
    started, cpu_started = time.perf_counter(), time.thread_time()
    beyond = not_applicable(unit, setup.train, setup.spec)
    if beyond:  # checked before any work: the attack could not spend its exact budget in any vector
        return [{**unit, "model": m, "not_applicable": str(beyond), "seconds": 0.0, "cpu_seconds": 0.0} for m in plan.models]
    try:
        # one BLAS/OpenMP thread per fit, set in this worker thread (OpenMP's limit is per thread):
        # many small fits with several threads each ran 3-20x slower on 2 shared cores (measured)
        with threadpool_limits(1):
            cells = _run_unit(unit, setup, plan, signing_key, verify_key, endpoint_url, content_cache if content_cache is not None else ContentCache())
    except Exception as exc:  # noqa: BLE001 - a failing cell is reported in the scorecard, not fatal
        message = exc.one_line() if hasattr(exc, "one_line") else f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        cells = [{**unit, "model": m, "error": message} for m in plan.models]
    took, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    for c in cells:
        c["seconds"], c["cpu_seconds"] = took, cpu
    return cells


def chunk_key(unit: dict[str, Any]) -> str:
    """Units with the same attack, rate and seed deliver the same flips through every vector."""
    return f"{unit['attack']}|{unit['rate']:g}|{unit['seed']}"


def chunk_units(units: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group units by :func:`chunk_key`, in first-seen order: one orchestrator task per chunk.

    The vectors of a chunk share one content-guard run (same rows), which needs no cache shared
    across processes, and the orchestrator's per-task overhead is paid once per chunk.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        groups.setdefault(chunk_key(u), []).append(u)
    return list(groups.values())


def run_chunk(
    units: list[dict[str, Any]],
    setup: "SeedSetup | SeedRef",
    plan: DrillPlan,
    *,
    signing_key: Path,
    verify_key: Path,
    endpoint_url: str | None = None,
    content_cache: ContentCache | None = None,
    stop_flag: str | None = None,
) -> list[dict[str, Any]]:
    """Run the units of one chunk (one attack, rate and seed; its vectors) with :func:`run_unit`.

    Parameters
    ----------
    units
        Units of one seed (``setup.seed``), usually one chunk from :func:`chunk_units`.
    setup
        The seed's setup, or a :class:`SeedRef` to it (worker processes load it once by path).
    content_cache
        Content-guard results to share beyond the chunk (threads of one process); default a
        cache for this chunk alone (a worker process of a cluster).
    stop_flag
        A file whose existence means "stop": units not started yet are skipped.

    Returns
    -------
    list of dict
        One cell per unit and model, in unit order; none for units not started after a stop.
    """
    cache = content_cache if content_cache is not None else ContentCache()
    if isinstance(setup, SeedRef):
        setup = setup.load()
    cells: list[dict[str, Any]] = []
    for u in units:
        cells.extend(run_unit(u, setup, plan, signing_key=signing_key, verify_key=verify_key, endpoint_url=endpoint_url, content_cache=cache, stop_flag=stop_flag))
    return cells


# ------------------------------------------------------------------ worker processes


_LOADED: dict[str, SeedSetup] = {}  # per worker process: setups read from disk, by path


@dataclass(frozen=True)
class SeedRef:
    """A seed's setup saved to a file, sent to worker processes instead of its frames: each process
    reads it once (:meth:`load` caches by path), so a task carries a path, not the data."""

    path: str

    @classmethod
    def save(cls, setup: SeedSetup, path: Path) -> "SeedRef":
        import pickle

        Path(path).write_bytes(pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL))
        return cls(str(path))

    def load(self) -> SeedSetup:
        import pickle

        if self.path not in _LOADED:
            _LOADED[self.path] = pickle.loads(Path(self.path).read_bytes())
        return _LOADED[self.path]


def _registries() -> dict[str, dict]:
    from labelguard.tasks import attacks, guards, train, transforms

    return {"attacks": attacks.REGISTRY, "guards": guards.REGISTRY, "models": train.REGISTRY, "transforms": transforms.REGISTRY}


def registry_snapshot() -> bytes:
    """The attack, guard, model and transform registries of this process, pickled (cloudpickle: an
    entry registered at runtime, e.g. in a script's ``__main__``, travels by value)."""
    import cloudpickle

    return cloudpickle.dumps({name: list(reg.items()) for name, reg in _registries().items()})


def install_registries(snapshot: bytes) -> None:
    """Make this process's registries equal the snapshot's (same entries, same order): a fresh
    worker process has only the entries its imports register, and the order of the guards decides
    which one is reported first."""
    import cloudpickle

    saved = cloudpickle.loads(snapshot)
    for name, reg in _registries().items():
        reg.clear()
        reg.update(saved[name])


def init_worker(snapshot: bytes) -> None:
    """Set up a drill worker process: Ctrl-C is the parent's to handle (it stops the drill after the
    units in flight, which the workers finish), one BLAS/OpenMP thread (the parallelism is across
    processes: N processes with a thread per core each would oversubscribe), the parent's registries."""
    import signal

    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # libraries loaded later read these
        os.environ[var] = "1"
    threadpool_limits(1)  # and those loaded already
    install_registries(snapshot)


def _attacked_frame(unit, setup: SeedSetup, plan: DrillPlan, signing_key: Path, verify_key: Path, endpoint_url):
    """Deliver the unit's attack through its vector; return (verified IntegrityReport of what the
    pipeline trains on, rows it trains on, GuardContext extras, FlipResult or None)."""
    from labelguard.tasks import transforms
    from labelguard.tasks.dataset import load_verified, read_parquet_file, write_dataset
    from labelguard.tasks.manifest import DatasetRef, load_signing_key, load_verify_key, new_dataset_id
    from labelguard.tasks.storage import open_store

    vkey = load_verify_key(verify_key)
    attack, rate, seed, vector = unit["attack"], unit["rate"], unit["seed"], unit["vector"]
    name = f"{attack}-{rate:g}-{vector}".replace(".", "p")
    spec = setup.spec
    if vector == "transform":
        integrity = load_verified(open_store(setup.clean_uri, endpoint_url=endpoint_url), vkey, roles=("data",))
        chosen = transforms.HONEST if attack == CLEAN else attack
        out = transforms.run_transform(integrity.frame, spec, chosen, rate=rate, seed=seed)
        extras = {"before": integrity.frame, "transform": transforms.get_transform(chosen)}
        return integrity, out.frame, extras, out.truth
    key = load_signing_key(signing_key)
    uri = f"{setup.clean_uri.rsplit('/', 1)[0]}/{name}"
    store = open_store(uri, endpoint_url=endpoint_url)
    truth = None
    if vector == "at-rest":
        write_dataset(store, setup.train, spec, key, source={"kind": "drill", "seed": seed}, dataset=DatasetRef(new_dataset_id(uri), role="data"))
        if attack != CLEAN:
            from labelguard.tasks.tamper import tamper

            truth = tamper(
                uri, attack=attack, rate=rate, seed=seed, truth_out=setup.work / f"{name}.truth.json", endpoint_url=endpoint_url,
                id_col=spec.id_col, label_col=spec.label_col, positive_class=spec.positive_class,
            )
    else:  # source: the batch is poisoned as a file before ingest, then ingested and signed honestly
        from labelguard.tasks.tamper import poison_file

        batch = setup.work / f"{name}.batch.parquet"
        setup.train.to_parquet(batch, index=False)
        poisoned = batch
        if attack != CLEAN:
            poisoned = setup.work / f"{name}.poisoned.parquet"
            truth = poison_file(batch, poisoned, attack=attack, rate=rate, seed=seed, truth_out=setup.work / f"{name}.truth.json",
                                id_col=spec.id_col, label_col=spec.label_col, positive_class=spec.positive_class)
        rows = read_parquet_file(poisoned)
        write_dataset(store, rows, spec, key, source={"kind": "drill-source", "seed": seed}, dataset=DatasetRef(new_dataset_id(uri), role="data"))
    integrity = load_verified(store, vkey, roles=("data",))
    return integrity, integrity.frame, {}, truth


def _run_unit(unit, setup: SeedSetup, plan: DrillPlan, signing_key, verify_key, endpoint_url, cache) -> list[dict[str, Any]]:
    from labelguard.tasks import guards as guard_lib
    from labelguard.tasks.train import evaluate, train_model
    from labelguard.tasks.verify import dataset_verdict, suite_suspects

    integrity, frame, extras, truth = _attacked_frame(unit, setup, plan, signing_key, verify_key, endpoint_url)
    spec = setup.spec
    ctx = guard_lib.GuardContext(frame=frame, spec=spec, integrity=integrity, reference=setup.holdout, holdout=setup.holdout, **extras)
    names = list(guard_lib.REGISTRY)
    integrity_names = [n for n in names if n in INTEGRITY_GUARDS]
    content_names = [n for n in names if n not in INTEGRITY_GUARDS]
    digest = frame_digest(frame)
    # the content guards see only these rows (and the trusted holdout): same rows, same results
    content = cache.get(digest, lambda: guard_lib.run_guards(ctx, content_names))
    by_name = {g.name: g for g in [*guard_lib.run_guards(ctx, integrity_names), *content]}
    results = guard_lib.apply_tolerance([_copy_result(by_name[n]) for n in names], plan.tolerate)
    verdict, why, _ = dataset_verdict(results, plan.tolerate)
    fired = [g.name for g in results if g.fired]
    truth_ids = set() if truth is None else set(map(_key, truth.flipped_ids))
    suspects, suspects_from = suite_suspects(results)
    per_guard = {
        g.name: {"verdict": g.verdict, **({"suspects": len(g.suspect_ids or [])} if g.suspect_ids is not None else {}),
                 **(localization(g.suspect_ids, truth_ids, len(frame)) if g.suspect_ids is not None else {})}
        for g in results
    }
    base = {
        **unit, "flips": len(truth_ids), "budget": 0 if truth is None else truth.budget, "note": "" if truth is None else truth.note,
        "caught": verdict == "fired", "verdict": verdict, "verdict_detail": why, "fired": fired, "first_guard": fired[0] if fired else None,
        "guards": per_guard,
        "suspects": {"count": len(suspects), "from": suspects_from, **localization(suspects, truth_ids, len(frame))},
    }
    cells = []
    for model in plan.models:
        poisoned = with_per_class(evaluate(train_model(frame, spec, model=model, seed=unit["seed"]), setup.holdout, spec))
        cells.append({**base, "model": model, "clean": _metrics(setup.clean_metrics[model]), "poisoned": _metrics(poisoned),
                      "damage": damage(setup.clean_metrics[model], poisoned)})
    return cells


def _copy_result(g):
    from dataclasses import replace

    return replace(g, metrics=dict(g.metrics))


def _key(value) -> str:
    return str(to_py(value))


def localization(suspect_ids, truth_ids: set[str], n_rows: int) -> dict[str, float | None]:
    """Precision, recall, F1 of a suspect set against the flipped ids, and the support-weighted F1
    of the per-row call (flipped / not flipped) over all ``n_rows`` rows. None where undefined."""
    named = set(map(_key, suspect_ids or []))
    tp = len(named & truth_ids)
    precision = tp / len(named) if named else None
    recall = tp / len(truth_ids) if truth_ids else None
    f1 = (2 * tp / (len(named) + len(truth_ids))) if (named or truth_ids) else None
    # the other class of the per-row call: rows correctly left alone
    fp, fn = len(named) - tp, len(truth_ids) - tp
    tn = n_rows - tp - fp - fn
    f1_clean = 2 * tn / (2 * tn + fp + fn) if (2 * tn + fp + fn) else None
    weighted = None
    if f1 is not None and f1_clean is not None:
        weighted = (len(truth_ids) * f1 + (n_rows - len(truth_ids)) * f1_clean) / n_rows
    return {"precision": precision, "recall": recall, "f1": f1, "weighted_f1": weighted}


def _metrics(m: dict[str, Any]) -> dict[str, Any]:
    keep = ("accuracy", "precision", "recall", "f1", "per_class", "class_shares", "positive_class", "predicted_positive_share", "true_positive_share")
    return {k: m[k] for k in keep if k in m}


def damage(clean: dict[str, Any], poisoned: dict[str, Any]) -> dict[str, Any]:
    """What the attack cost: accuracy points lost and the move of the positive class's predicted share
    (else the class that moved most; in points, against the clean model's); ``material`` when either
    reaches MATERIAL_POINTS, any class's share moved that much, or any class lost at least
    :data:`~labelguard.tasks.guards.RECALL_GAP` of its recall (``recall_class``, ``recall_points``: the class
    whose recall fell most; ``recall_material``: that rule alone): a 1 % class can lose every row while accuracy
    moves one point (break-it r10 F2)."""
    from labelguard.tasks.guards import RECALL_GAP

    acc = 100 * (clean["accuracy"] - poisoned["accuracy"])
    shifts = {c: 100 * (poisoned["class_shares"][c]["predicted"] - clean["class_shares"][c]["predicted"]) for c in poisoned["class_shares"]}
    pos = poisoned.get("positive_class")
    # the business figure: the positive class's share when there is one, else the class that moved most
    worst = str(pos) if pos is not None and str(pos) in shifts else max(shifts, key=lambda c: (abs(shifts[c]), c))
    drops = {c: 100 * (clean["per_class"][c]["recall"] - poisoned["per_class"][c]["recall"])
             for c in poisoned.get("per_class", {}) if c in clean.get("per_class", {})}
    hit = max(drops, key=lambda c: (drops[c], c)) if drops else None
    recall_material = bool(hit is not None and drops[hit] >= 100 * RECALL_GAP - 1e-9)
    return {"accuracy_points": acc, "share_class": worst, "share_points": shifts[worst],
            "recall_class": hit, "recall_points": drops[hit] if hit is not None else 0.0, "recall_material": recall_material,
            "material": bool(acc >= MATERIAL_POINTS or max(abs(v) for v in shifts.values()) >= MATERIAL_POINTS or recall_material)}


# ------------------------------------------------------------------ the certificate beside the guards


def certificate(setup: SeedSetup, plan: DrillPlan, model: str) -> dict[str, Any]:
    """The label-flip certificate of ``model`` trained on this seed's clean rows, as a dict."""
    from labelguard.tasks.certify import certify

    cert = certify(setup.train, setup.holdout, setup.spec, model=model, partitions=plan.partitions, seed=setup.seed)
    return {**cert.to_dict(), "seed": setup.seed, "holdout_rows": len(setup.holdout)}


def iter_pending(plan: DrillPlan, done: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The units not finished yet (a unit is finished when every model has a cell for it)."""
    seen: dict[str, set] = {}
    for c in done:
        seen.setdefault(unit_key(c), set()).add(c["model"])
    for u in plan.units():
        if seen.get(unit_key(u), set()) != set(plan.models):
            yield u
