"""The `labelguard` command: the only place where errors become exit codes (0 ok, 1 guard fired, 2 bad input)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from labelguard.config import Settings
from labelguard.errors import GuardFired, LabelguardError

EXIT_OK, EXIT_FIRED, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(
    help="Label-flipping drills for data pipelines: poison labels, see whether your guards notice, measure what it costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped or captured output gets a readable fixed width instead of rich's 80 columns.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)

QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
}


def _quiet(verbose: bool) -> None:
    """Prefect reads its settings at import: set ours first. Logs still reach the Prefect API."""
    for key, value in QUIET_ENV.items():
        if verbose and "LEVEL" in key:
            continue
        os.environ.setdefault(key, value)
    import warnings

    if not verbose:
        warnings.filterwarnings("ignore")


@contextmanager
def _edge() -> Iterator[None]:
    """Turn the labelguard error family into one line on stderr and a documented exit code."""
    try:
        yield
    except GuardFired as exc:
        if exc.results:
            _print_guards(exc.results)
        err.print(f"[red]guard fired:[/] {exc.one_line()}", highlight=False)
        raise typer.Exit(EXIT_FIRED) from None
    except LabelguardError as exc:
        err.print(f"[red]error:[/] {exc.one_line()}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def _s3_endpoint(settings: Settings, uris: list[str], *, embed_if_unset: bool) -> Iterator[str | None]:
    """Use the configured S3 endpoint; for the demo, start an embedded moto server when none is set."""
    needs_s3 = any(u.startswith("s3://") for u in uris if u)
    if settings.s3_endpoint or not needs_s3 or not embed_if_unset:
        yield settings.s3_endpoint
        return
    from labelguard.tasks.storage import embedded_s3

    with embedded_s3() as endpoint:
        yield endpoint


VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show Prefect's logs and library warnings.")
EndpointOpt = typer.Option(None, "--endpoint-url", help="S3 endpoint (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS).")


@app.command()
def keygen(out_dir: Path = typer.Option(..., "--out", help="Directory for signing.key (0600) and verify.pub.")) -> None:
    """Make an Ed25519 key pair for signing and verifying manifests."""
    from labelguard.tasks.manifest import generate_keypair

    with _edge():
        sign, verify = generate_keypair(out_dir)
    out.print(f"wrote {sign} (private, mode 0600) and {verify}")
    out.print(f"export LABELGUARD_SIGNING_KEY={sign.resolve()} LABELGUARD_VERIFY_KEY={verify.resolve()}", highlight=False)


@app.command()
def ingest(
    dest: str = typer.Option(..., "--dest", help="Dataset URI: s3://bucket/prefix or a local directory."),
    source: str = typer.Option("synthetic", "--source", help="'synthetic' or a local .csv/.parquet file."),
    rows: int = typer.Option(5000, "--rows", help="Rows to generate (synthetic only)."),
    separation: float = typer.Option(5.0, "--separation", help="Distance between the class clusters (synthetic only; 2.8 gives ~0.92 accuracy)."),
    spread: float = typer.Option(1.0, "--spread", help="Within-class standard deviation (synthetic only)."),
    positive_share: float = typer.Option(0.5, "--positive-share", help="Expected share of positive reviews (synthetic only)."),
    seed: int = typer.Option(0, "--seed", help="Seed for generation and the holdout split."),
    label_col: str = typer.Option("label", "--label-col"),
    id_col: str = typer.Option("review_id", "--id-col"),
    timestamp_col: str = typer.Option("created_at", "--timestamp-col", help="Used when present."),
    holdout_fraction: float = typer.Option(0.2, "--holdout-fraction", help="Share kept as the trusted holdout at DEST/holdout (0 = none)."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Default: $LABELGUARD_SIGNING_KEY."),
    endpoint_url: Optional[str] = EndpointOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Ingest reviews as Parquet with a signed manifest (create-only; manifest written last)."""
    _quiet(verbose)
    settings = Settings.resolve(signing_key=signing_key, s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.manifest import load_signing_key

        from labelguard.tasks.storage import open_store

        # fail before Prefect starts: key, source file, store configuration (no network yet)
        load_signing_key(settings.signing_key)
        if source != "synthetic" and not Path(source).is_file():
            from labelguard.errors import BadInput

            raise BadInput(f"no such file: {source}", "pass --source synthetic or an existing .csv/.parquet file")
        open_store(dest, endpoint_url=settings.s3_endpoint)
        from labelguard.flows.ingest import ingest_flow

        summary = ingest_flow(
            source=source, dest=dest, signing_key=settings.signing_key, rows=rows, seed=seed, id_col=id_col,
            synthetic={"separation": separation, "spread": spread, "positive_share": positive_share},
            label_col=label_col, timestamp_col=timestamp_col, holdout_fraction=holdout_fraction, endpoint_url=settings.s3_endpoint,
        )
    for part, s in summary.items():
        out.print(
            f"{part}: {s['uri']}  rows={s['rows']}  labels={s['label_histogram']}  sha256={s['sha256'][:16]}…  version={s['version_id']}",
            highlight=False,
        )


@app.command()
def pipeline(
    uri: str = typer.Argument(..., help="Dataset URI written by `labelguard ingest`."),
    transform: str = typer.Option("honest", "--transform", help="Preprocessing step: 'honest' or a compromised one (an attack name)."),
    rate: float = typer.Option(0.0, "--rate", help="Share of rows a compromised transform flips."),
    seed: int = typer.Option(0, "--seed"),
    observe: bool = typer.Option(False, "--observe", help="Guards report but do not stop training."),
    holdout: Optional[str] = typer.Option(None, "--holdout", help="Trusted holdout URI (default: URI/holdout)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Signed baseline for the statistical/content guards (default: the holdout)."),
    model: str = typer.Option("logreg", "--model", help="logreg, knn or gboost."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Also write report.md/report.json/boundaries.png here."),
    verify_key: Optional[Path] = typer.Option(None, "--verify-key", help="Default: $LABELGUARD_VERIFY_KEY."),
    endpoint_url: Optional[str] = EndpointOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Run the training pipeline: load, verify, transform, guards, train, evaluate."""
    _quiet(verbose)
    settings = Settings.resolve(verify_key=verify_key, s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.attacks import check_rate
        from labelguard.tasks.manifest import load_verify_key
        from labelguard.tasks.train import check_model
        from labelguard.tasks.transforms import get_transform

        from labelguard.tasks.storage import open_store

        get_transform(transform), check_rate(rate), check_model(model), load_verify_key(settings.verify_key)
        open_store(uri, endpoint_url=settings.s3_endpoint)
        from labelguard.flows.pipeline import pipeline_flow

        result = pipeline_flow(
            uri, settings.verify_key, transform=transform, rate=rate, seed=seed, observe=observe,
            holdout_uri=holdout, reference_uri=reference, model=model, endpoint_url=settings.s3_endpoint,
        )
    _print_guards(result.guards)
    if result.metrics:
        _print_runs({"run": result})
    if out_dir is not None:
        from labelguard.tasks.report import write_report

        paths = write_report({"run": result}, out_dir)
        out.print("report: " + "  ".join(str(p) for p in paths.values()), highlight=False)
    if result.fired:
        err.print(f"[red]guard fired:[/] {', '.join(result.fired)} (observe mode: trained anyway)", highlight=False)
        raise typer.Exit(EXIT_FIRED)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("reports/demo"), "--out", help="Where report.md, report.json and boundaries.png go."),
    rows: int = typer.Option(5000, "--rows"),
    seed: int = typer.Option(0, "--seed"),
    transform: str = typer.Option("targeted", "--transform", help="The compromised transform to compare against."),
    rate: float = typer.Option(0.2, "--rate"),
    dest: Optional[str] = typer.Option(None, "--dest", help="Dataset URI (default: a fresh s3:// prefix)."),
    endpoint_url: Optional[str] = EndpointOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Run the whole drill: ingest, clean run, compromised run (observe mode), report. Exits 0 when it completes."""
    _quiet(verbose)
    settings = Settings.resolve(s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.attacks import check_rate
        from labelguard.tasks.transforms import get_transform

        get_transform(transform), check_rate(rate)
        from labelguard.flows.demo import demo_dest, demo_flow

        dest = dest or demo_dest()
        with _s3_endpoint(settings, [dest], embed_if_unset=True) as endpoint:
            if endpoint and not settings.s3_endpoint:
                out.print(f"embedded S3 (moto server) at {endpoint}", highlight=False)
            res = demo_flow(out_dir=out_dir, dest=dest, rows=rows, seed=seed, transform=transform, rate=rate, endpoint_url=endpoint)
    out.print(f"dataset: {res['dest']}", highlight=False)
    for name, run in res["runs"].items():
        _print_guards(run.guards, title=f"guards — {name} run ({run.transform})")
    _print_runs(res["runs"])
    from labelguard.tasks.report import business_sentence

    for run in res["runs"].values():
        out.print(business_sentence(run).replace("`", ""), highlight=False)
    out.print(f"report: {res['paths']['markdown']}  json: {res['paths']['json']}" + (f"  plot: {res['paths']['plot']}" if "plot" in res["paths"] else ""), highlight=False)


@app.command()
def verify(
    uri: str = typer.Argument(..., help="Dataset URI written by `labelguard ingest`."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Signed baseline from `labelguard baseline` (enables the statistical and reference-anchored guards)."),
    holdout: Optional[str] = typer.Option(None, "--holdout", help="Trusted holdout URI for the model gate (default for synthetic data: the golden holdout shipped in data/)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full result as JSON."),
    guard_names: Optional[str] = typer.Option(None, "--guards", help="Comma-separated subset of guards (default: all)."),
    tolerate: float = typer.Option(0.2, "--tolerate", help="Flip rate per class (and holdout accuracy drop) you accept going unseen: a pass without the power to see it is 'inconclusive'."),
    allow_inconclusive: bool = typer.Option(False, "--allow-inconclusive", help="Exit 0 when the verdict is inconclusive (default: exit 1, fail closed)."),
    verify_key: Optional[Path] = typer.Option(None, "--verify-key", help="Default: $LABELGUARD_VERIFY_KEY."),
    endpoint_url: Optional[str] = EndpointOpt,
) -> None:
    """Run every guard on a stored dataset, without Prefect: exit 0 pass, 1 fired or cannot tell, 2 bad input."""
    import json as _json

    _quiet(False)
    settings = Settings.resolve(verify_key=verify_key, s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.manifest import load_verify_key
        from labelguard.tasks.verify import verify_dataset

        if not 0 < tolerate <= 1:
            from labelguard.errors import BadInput

            raise BadInput(f"--tolerate must be a rate in (0, 1], got {tolerate:g}", "pass e.g. --tolerate 0.05 (5 % of a class's rows)")
        names = [n.strip() for n in guard_names.split(",")] if guard_names else None
        report = verify_dataset(
            uri, load_verify_key(settings.verify_key), reference_uri=reference, holdout_uri=holdout, names=names, endpoint_url=settings.s3_endpoint,
            tolerate=tolerate,
        )
        if json_out is not None:
            try:
                json_out.write_text(_json.dumps(report.to_dict(), indent=1))
            except OSError as exc:
                from labelguard.errors import BadInput

                raise BadInput(f"cannot write {json_out}: {exc.strerror or exc}", "choose a writable --json path") from None
    _print_guards(report.guards, title=f"verify {uri}")
    if report.suspect_ids:
        shown = ", ".join(map(str, report.suspect_ids[:10])) + (" …" if len(report.suspect_ids) > 10 else "")
        what = "suspect rows" if report.verdict != "pass" else "rows most likely flipped, though nothing fired"
        out.print(f"{what} ({len(report.suspect_ids)}, from {', '.join(report.suspects_from)}): {shown}", highlight=False)
    out.print(f"verdict: {report.verdict} — {report.verdict_detail}", highlight=False)
    if report.verdict == "fired":
        err.print(f"[red]guard fired:[/] {', '.join(g.name for g in report.guards if g.fired)}", highlight=False)
        raise typer.Exit(EXIT_FIRED)
    if report.verdict == "inconclusive" and not allow_inconclusive:
        err.print(f"[red]cannot tell:[/] {report.verdict_detail} (fix: add trusted reference rows, raise --tolerate, or pass --allow-inconclusive)", highlight=False)
        raise typer.Exit(EXIT_FIRED)


@app.command()
def watch(
    uri: str = typer.Argument(..., help="Dataset URI to verify on every run."),
    cron: str = typer.Option(..., "--cron", help='Schedule, e.g. "0 * * * *" (hourly).'),
    reference: Optional[str] = typer.Option(None, "--reference", help="Signed baseline for the statistical and content guards."),
    holdout: Optional[str] = typer.Option(None, "--holdout", help="Trusted holdout for the model gate."),
    name: str = typer.Option("labelguard-watch", "--name", help="Deployment name."),
    verify_key: Optional[Path] = typer.Option(None, "--verify-key", help="Default: $LABELGUARD_VERIFY_KEY."),
    endpoint_url: Optional[str] = EndpointOpt,
) -> None:
    """Serve the verify flow on a cron schedule (needs a running Prefect server: `prefect server start`)."""
    settings = Settings.resolve(verify_key=verify_key, s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.errors import BadInput
        from labelguard.tasks.manifest import load_verify_key
        from labelguard.tasks.storage import open_store

        if not os.environ.get("PREFECT_API_URL"):
            # A served schedule never fires on Prefect's ephemeral API: refuse rather than sit idle.
            raise BadInput("scheduled runs need a Prefect server", "run `prefect server start` and set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=cron)
        except ValueError as exc:
            raise BadInput(f"invalid cron expression {cron!r}: {str(exc).splitlines()[0]}", 'write five fields, e.g. "0 * * * *"') from None
        load_verify_key(settings.verify_key)
        open_store(uri, endpoint_url=settings.s3_endpoint)
        from labelguard.flows.verify import verify_flow

        out.print(f"serving {name}: verify {uri} on '{cron}' (Ctrl-C stops)", highlight=False)
        verify_flow.serve(
            name=name,
            cron=cron,
            parameters={"uri": uri, "verify_key": str(settings.verify_key), "reference_uri": reference, "holdout_uri": holdout, "endpoint_url": settings.s3_endpoint},
        )


@app.command()
def baseline(
    uri: str = typer.Argument(..., help="A trusted dataset (verified before use)."),
    out_uri: str = typer.Option(..., "--out", help="Where the signed baseline goes (create-only)."),
    signing_key: Optional[Path] = typer.Option(None, "--signing-key", help="Default: $LABELGUARD_SIGNING_KEY."),
    verify_key: Optional[Path] = typer.Option(None, "--verify-key", help="Default: $LABELGUARD_VERIFY_KEY."),
    endpoint_url: Optional[str] = EndpointOpt,
) -> None:
    """Make a signed reference baseline from trusted data, for `verify --reference`."""
    _quiet(False)
    settings = Settings.resolve(signing_key=signing_key, verify_key=verify_key, s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.manifest import load_signing_key, load_verify_key
        from labelguard.tasks.verify import make_baseline

        m = make_baseline(uri, out_uri, load_verify_key(settings.verify_key), load_signing_key(settings.signing_key), endpoint_url=settings.s3_endpoint)
    out.print(f"baseline: {out_uri}  rows={m.payload['rows']}  classes={m.payload['baseline']['class_counts']}", highlight=False)


def _parse_options(pairs: list[str]) -> dict:
    """``--option key=value`` pairs; values parse as JSON when they can (numbers, lists), else text."""
    import json

    from labelguard.errors import BadInput

    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--option {pair!r} is not key=value", 'write e.g. --option where="polarity > 3"')
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


AttackOpt = typer.Option(..., "--attack", help="A registered attack (see `labelguard list`).")
OptionOpt = typer.Option(None, "--option", help="Attack option key=value (repeatable), e.g. where=\"polarity > 3\".")


@app.command()
def tamper(
    uri: str = typer.Argument(..., help="Dataset URI (its manifest names the object) or a .parquet/.csv object URI."),
    attack: str = AttackOpt,
    rate: float = typer.Option(..., "--rate"),
    seed: int = typer.Option(0, "--seed"),
    truth_out: Path = typer.Option(..., "--truth-out", help="JSON ground truth of the flips; never written into the store."),
    forge_manifest: bool = typer.Option(False, "--forge-manifest", help="Also rewrite every unsigned manifest field to match."),
    resign_key: Optional[Path] = typer.Option(None, "--resign-key", help="Forge and re-sign the manifest with this (attacker's) key."),
    option: Optional[list[str]] = OptionOpt,
    id_col: str = typer.Option("review_id", "--id-col", help="For objects without a manifest."),
    label_col: str = typer.Option("label", "--label-col", help="For objects without a manifest."),
    endpoint_url: Optional[str] = EndpointOpt,
) -> None:
    """Play the attacker with write access: flip labels in a stored object in place."""
    _quiet(False)
    settings = Settings.resolve(s3_endpoint=endpoint_url)
    with _edge():
        from labelguard.tasks.manifest import load_signing_key
        from labelguard.tasks.tamper import tamper as do_tamper

        res = do_tamper(
            uri, attack=attack, rate=rate, seed=seed, truth_out=truth_out, forge_manifest=forge_manifest,
            resign_key=load_signing_key(resign_key) if resign_key else None, endpoint_url=settings.s3_endpoint,
            id_col=id_col, label_col=label_col, options=_parse_options(option),
        )
    out.print(f"flipped {len(res.flipped)} labels in {uri} with {attack} (rate {rate}, seed {seed}); truth: {truth_out}" + (f"; {res.note}" if res.note else ""), highlight=False)


@app.command()
def poison(
    path: Path = typer.Argument(..., help="A local .csv or .parquet file, before ingest."),
    out_path: Path = typer.Option(..., "--out", help="Where the poisoned copy goes (same suffix; never overwritten)."),
    attack: str = AttackOpt,
    rate: float = typer.Option(..., "--rate"),
    seed: int = typer.Option(0, "--seed"),
    truth_out: Optional[Path] = typer.Option(None, "--truth-out"),
    option: Optional[list[str]] = OptionOpt,
    id_col: str = typer.Option("review_id", "--id-col"),
    label_col: str = typer.Option("label", "--label-col"),
) -> None:
    """Poison at the source: write a label-flipped copy of a local file before it is ever ingested."""
    _quiet(False)
    with _edge():
        from labelguard.tasks.tamper import poison_file

        res = poison_file(path, out_path, attack=attack, rate=rate, seed=seed, truth_out=truth_out, id_col=id_col, label_col=label_col, options=_parse_options(option))
    out.print(f"wrote {out_path}: {len(res.flipped)} labels flipped with {attack}" + (f"; truth: {truth_out}" if truth_out else "") + (f"; {res.note}" if res.note else ""), highlight=False)


@app.command("list")
def list_registered() -> None:
    """List the registered attacks, transforms, guards and models."""
    from labelguard.tasks import attacks, guards, train, transforms

    table = Table(title="registered", title_justify="left")
    for col in ("kind", "name", "what it does"):
        table.add_column(col)
    for a in attacks.REGISTRY.values():
        table.add_row("attack", a.name, a.description)
    for name in transforms.transform_names():
        table.add_row("transform", name, transforms.get_transform(name).description)
    for g in guards.REGISTRY.values():
        table.add_row("guard", g.name, g.description)
    for m in train.REGISTRY:
        table.add_row("model", m, "")
    out.print(table)


@app.command("serve-s3")
def serve_s3(port: int = typer.Option(5000, "--port")) -> None:
    """Run the embedded moto S3 server in the foreground, for multi-command sessions (Ctrl-C stops)."""
    import time

    from labelguard.tasks.storage import EMBEDDED_CREDENTIALS, embedded_s3

    with _edge(), embedded_s3(port) as endpoint:
        out.print(f"S3 endpoint on {endpoint}; in another shell:", highlight=False)
        creds = " ".join(f"{k}={v}" for k, v in EMBEDDED_CREDENTIALS.items())
        out.print(f"  export AWS_ENDPOINT_URL_S3={endpoint} {creds}", highlight=False)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _print_guards(results, title: str = "guards") -> None:
    table = Table(title=title, title_justify="left")
    for col in ("guard", "verdict", "suspects", "detail"):
        table.add_column(col, overflow="fold")
    for g in results:
        colour = {"skipped": "yellow", "pass": "green", "inconclusive": "magenta"}.get(g.verdict, "red")
        table.add_row(g.name, f"[{colour}]{g.verdict}[/]", "—" if g.suspect_ids is None else str(len(g.suspect_ids)), g.detail)
    out.print(table)


SHORT = {"transform": "transform", "flipped": "flips", "guards fired": "fired", "accuracy": "acc", "precision": "prec",
         "recall": "recall", "f1": "F1", "predicted positive": "pred +", "true positive": "true +"}


def _print_runs(runs) -> None:
    from labelguard.tasks.report import summary_rows

    rows = summary_rows(runs)
    for row, run in zip(rows, runs.values()):  # names are in the guard tables above; keep this one narrow
        row["guards fired"] = f"{len(run.fired)} of {len(run.guards)}"
    table = Table(title="impact on the model (trusted holdout; + = share of positive reviews)", title_justify="left")
    for col in rows[0]:
        table.add_column(SHORT.get(col, col), justify="left" if col in ("run", "transform", "guards fired") else "right", overflow="fold")
    for r in rows:
        table.add_row(*[
            ("—" if v is None else (f"{v:.1%}" if "positive" in k else f"{v:.3f}")) if isinstance(v, float) or v is None else str(v)
            for k, v in r.items()
        ])
    out.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
