"""The `occupancy` command line: pipeline steps, synthetic data, batch scoring and the demo.

Errors raised on purpose (OccupancyError) print one line, `error: <sentence>`, and exit with the
error's code: 2 when the input or a contract is wrong (never worth a retry), 1 otherwise; any
other failure prints one line too (occupancy.failures names the place and what to check; exit 2
for a path that cannot be used as given, else 1; Ctrl-C prints `error: interrupted`, exit 130),
never a traceback unless `--debug` or OCCUPANCY_DEBUG=1 is given. Step commands print a one-line JSON summary as their last line of stdout.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from occupancy.config import get_settings
from occupancy.errors import EXIT_BAD_INPUT, OccupancyError
from occupancy.failures import describe, is_path_error

EXIT_INTERRUPTED = 130

app = typer.Typer(
    help="Predict the occupancy level of short-term rental listings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
step_app = typer.Typer(
    help="Run one pipeline step (what each Airflow task runs).", no_args_is_help=True
)
data_app = typer.Typer(help="Data utilities.", no_args_is_help=True)
app.add_typer(step_app, name="step")


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback of a failure (same as OCCUPANCY_DEBUG=1).",
        ),
    ] = False,
) -> None:
    if debug:
        os.environ["OCCUPANCY_DEBUG"] = "1"


def _debugging() -> bool:
    return os.environ.get("OCCUPANCY_DEBUG", "").strip().lower() in {"1", "true", "yes"}


app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable[..., Any])
# `occupancy serve`'s default (DESIGN.md section 5): in a container only all interfaces reach the
# published port. Compose publishes it on loopback; `occupancy demo` serves on 127.0.0.1.
ALL_INTERFACES = "0.0.0.0"  # nosec B104
RunId = Annotated[
    str, typer.Option("--run-id", help="Pipeline run id shared by all steps of one run.")
]


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    for noisy in ("mlflow", "alembic", "botocore", "urllib3", "skops"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Library chatter (convergence notes, MLflow's pickle advice) is not a user's concern here.
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", module="sklearn")


def _friendly(func: F) -> F:
    """Map any failure to one `error: …` line and an exit code; --debug re-raises instead."""

    command = func.__name__

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _configure_logging()
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except OccupancyError as exc:
            if _debugging():
                raise
            # The runners read the reason off this line (a skip's too).
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("error: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # a user must never see a traceback without asking for it
            if _debugging():
                raise
            typer.echo(f"error: {describe(exc, command)}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT if is_path_error(exc) else 1) from None

    return wrapper  # type: ignore[return-value]


# Where a step also writes its summary when Airflow wants it as the task's result (XCom): the
# local runner points it at a file of its own, a pod at the provider's /airflow/xcom/return.json.
RESULT_FILE_ENV = "OCCUPANCY_STEP_RESULT_FILE"


def _emit(summary: dict[str, Any]) -> None:
    text = json.dumps(summary, default=str, sort_keys=True)
    target = os.environ.get(RESULT_FILE_ENV)
    if target:
        Path(target).write_text(text, encoding="utf-8")
    typer.echo(text)


SourceName = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="The source's name when the run treats several raw files (`occupancy step "
        "sources`); then the combine step publishes the run's table.",
    ),
]


@step_app.command("sources")
@_friendly
def sources(
    run_id: RunId,
    raw: Annotated[
        list[str] | None,
        typer.Option(
            help="A raw listings CSV(.gz) (path, file://, s3:// or http(s)://) or a folder "
            "ending in / (every .csv/.csv.gz under it); repeat for more (default "
            "OCCUPANCY_RAW_URI)."
        ),
    ] = None,
    raw_list: Annotated[
        str | None,
        typer.Option(help="The same as a JSON list of strings (what data_treatment_dag passes)."),
    ] = None,
) -> None:
    """Name the raw sources of a run (what data_treatment_dag maps ingest and treat over)."""
    from occupancy.steps.sources import run_sources

    _emit(run_sources(get_settings(), run_id, [*(raw or []), *_json_strings(raw_list)]))


def _json_strings(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--raw-list is not JSON ({exc.msg}): {text[:80]!r}") from None
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise typer.BadParameter(f"--raw-list must be a JSON list of strings, got {text[:80]!r}")
    return values


@step_app.command("ingest")
@_friendly
def ingest(
    run_id: RunId,
    raw: Annotated[
        str | None,
        typer.Option(
            help="Raw listings CSV(.gz): path, file://, s3:// or http(s):// (default OCCUPANCY_RAW_URI)."
        ),
    ] = None,
    source: SourceName = None,
) -> None:
    """Validate the raw CSV, quarantine bad rows and snapshot it into the lake."""
    from occupancy.steps.ingest import run_ingest

    # An empty --raw (what a DAG renders when no file was given) means the configured default.
    _emit(run_ingest(get_settings(), run_id, raw or None, source=source or None))


@step_app.command("treat")
@_friendly
def treat(run_id: RunId, source: SourceName = None) -> None:
    """Clean, build features, target and split; publish Parquet."""
    from occupancy.steps.treat import run_treat

    _emit(run_treat(get_settings(), run_id, source=source or None))


@step_app.command("combine")
@_friendly
def combine(
    run_id: RunId,
    sources: Annotated[
        str, typer.Option(help="The run's source names, comma-separated (`step sources`).")
    ],
) -> None:
    """Publish the union of a run's per-source tables as its training table."""
    from occupancy.steps.combine import run_combine

    names = [name.strip() for name in sources.split(",") if name.strip()]
    _emit(run_combine(get_settings(), run_id, names))


@step_app.command("score-plan")
@_friendly
def score_plan(
    run_id: Annotated[str, typer.Option("--run-id", help="Scoring run id (batch_scoring_dag's).")],
    input: Annotated[
        str,
        typer.Option("--input", help="Listings CSV(.gz) to score: path, s3:// or http(s)://."),
    ],
) -> None:
    """Cut a raw file into chunks to score and pin the champion's version."""
    from occupancy.steps.score import run_score_plan

    _emit(run_score_plan(get_settings(), run_id, input))


@step_app.command("score")
@_friendly
def score(
    run_id: Annotated[str, typer.Option("--run-id", help="Scoring run id (batch_scoring_dag's).")],
    chunk: Annotated[int, typer.Option("--chunk", min=0, help="The chunk to score (0, 1, ...).")],
) -> None:
    """Score one chunk of a scoring run with the version its plan pinned."""
    from occupancy.steps.score import run_score_chunk

    _emit(run_score_chunk(get_settings(), run_id, chunk))


@step_app.command("score-summary")
@_friendly
def score_summary(
    run_id: Annotated[str, typer.Option("--run-id", help="Scoring run id (batch_scoring_dag's).")],
) -> None:
    """The scoring run's totals, once every chunk is scored."""
    from occupancy.steps.score import run_score_summary

    _emit(run_score_summary(get_settings(), run_id))


@app.command("prepare")
@_friendly
def prepare(
    raw: Annotated[
        list[str],
        typer.Option(
            help="A raw listings CSV(.gz) (path, file://, s3:// or http(s)://) or a folder "
            "ending in /; repeat for more."
        ),
    ],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Pipeline run id (default: a new one).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Sources treated at a time, one process each (default "
            "OCCUPANCY_MAX_PARALLEL_SOURCES, else 2).",
        ),
    ] = None,
) -> None:
    """Ingest and treat raw files in parallel processes, then combine them (no Airflow)."""
    from occupancy.treatment import new_run_id, run_treatment

    _emit(run_treatment(get_settings(), run_id or new_run_id(), raw, workers))


@step_app.command("check")
@_friendly
def check(run_id: RunId) -> None:
    """Check that a run's processed data is published (first task of the training DAG)."""
    from occupancy.steps.check import run_check

    _emit(run_check(get_settings(), run_id))


@step_app.command("train")
@_friendly
def train(
    run_id: RunId,
    model: Annotated[
        str, typer.Option("--model", help="Model family: logreg, hgb, forest or mlp.")
    ],
) -> None:
    """Fit one model family and log it as an MLflow child run."""
    from occupancy.steps.train import run_train

    _emit(run_train(get_settings(), run_id, model))


@step_app.command("promote")
@_friendly
def promote(
    run_id: RunId,
    superseded: Annotated[
        str,
        typer.Option(
            "--superseded",
            help="Pipeline runs, comma-separated, that this one superseded (recorded in MLflow).",
        ),
    ] = "",
) -> None:
    """Pick the best family, gate it against the champion, register and move the alias."""
    from occupancy.steps.promote import run_promote

    others = tuple(other.strip() for other in superseded.split(",") if other.strip())
    _emit(run_promote(get_settings(), run_id, others))


@data_app.command("synth")
@_friendly
def synth(
    rows: Annotated[int, typer.Option(min=1, help="Number of listings.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")] = 42,
    out: Annotated[Path, typer.Option(help="Output CSV (.csv or .csv.gz).")] = Path(
        "listings_big.csv"
    ),
) -> None:
    """Write a realistic synthetic listings_big.csv in the Inside Airbnb schema."""
    from occupancy.data.synth import write_synthetic_file

    write_synthetic_file(out, rows, seed)
    _emit({"step": "synth", "rows": rows, "seed": seed, "out": str(out)})


@data_app.command("seed")
@_friendly
def seed_lake(
    source: Annotated[
        Path | None, typer.Option(help="Your listings CSV to upload when present.")
    ] = None,
    rows: Annotated[int, typer.Option(min=100, help="Synthetic listings otherwise.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 42,
    bucket: Annotated[
        list[str] | None, typer.Option(help="Another bucket to create (repeatable).")
    ] = None,
) -> None:
    """Create the buckets and put raw listings at OCCUPANCY_RAW_URI unless already there."""
    from occupancy.seed import run_seed

    _emit(run_seed(get_settings(), source=source, rows=rows, seed=seed, buckets=bucket or []))


MonitoringRunId = Annotated[
    str,
    typer.Option(
        "--run-id", help="Monitoring run id: the steps of one run share it (monitoring_dag's)."
    ),
]
Until = Annotated[
    str | None, typer.Option("--until", help="Last day of the window (YYYY-MM-DD; today).")
]


@step_app.command("drift")
@_friendly
def drift(
    days: Annotated[int, typer.Option("--days", help="Days of the prediction log to measure.")] = 7,
    until: Until = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Monitoring run id (default: <until>-v<champion version>)."),
    ] = None,
) -> None:
    """The champion's input drift over the prediction log, against its reference profile."""
    from occupancy.steps.drift import run_drift

    _emit(run_drift(get_settings(), run_id=run_id, days=days, until=until))


@step_app.command("performance")
@_friendly
def performance(
    run_id: MonitoringRunId,
    truth: Annotated[
        str,
        typer.Option(
            "--truth",
            help="A newer scrape of the city (CSV(.gz): path, file://, s3:// or http(s)://); empty: "
            "record that nothing was measured.",
        ),
    ] = "",
    days: Annotated[
        int, typer.Option("--days", help="Days of the prediction log to join with it.")
    ] = 120,
    until: Until = None,
) -> None:
    """The champion's live macro-F1: its logged predictions against a newer scrape."""
    from occupancy.steps.performance import run_performance

    _emit(run_performance(get_settings(), run_id=run_id, truth_uri=truth, days=days, until=until))


@step_app.command("report")
@_friendly
def report(run_id: MonitoringRunId) -> None:
    """The monitoring run's HTML report, its MLflow run, and whether to retrain."""
    from occupancy.steps.report import run_report

    _emit(run_report(get_settings(), run_id=run_id))


@app.command("predict")
@_friendly
def predict(
    input: Annotated[
        str, typer.Option("--input", help="Listings CSV(.gz) to score: path, s3:// or http(s)://.")
    ],
    output: Annotated[Path, typer.Option("--output", help="Predictions file, .csv or .parquet.")],
) -> None:
    """Score raw listings with the champion; rows breaking the data contract are refused."""
    from occupancy.predict import run_predict

    _emit(run_predict(get_settings(), input, output))


@app.command("serve")
@_friendly
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = ALL_INTERFACES,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Seconds between checks of the alias for a new version (default: "
            "OCCUPANCY_POLL_SECONDS, else 30).",
        ),
    ] = None,
) -> None:
    """Serve the champion over HTTP (FastAPI): /predict, /model, /health/*, /metrics, /docs."""
    from occupancy.api.server import run_server

    settings = get_settings()
    every = settings.poll_seconds if poll_seconds is None else poll_seconds
    run_server(settings, host=host, port=port, workers=workers, poll_seconds=every)


@app.command("demo")
@_friendly
def demo(
    raw: Annotated[
        list[str] | None,
        typer.Option(
            help="Your own listings CSV(.gz) (path, s3:// or http(s)://); repeat for several "
            "cities in one run; default: synthetic data."
        ),
    ] = None,
    rows: Annotated[
        int, typer.Option(min=100, help="Synthetic listings to generate when --raw is not given.")
    ] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 42,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the champion afterwards.")
    ] = True,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the API when serving.")
    ] = 8000,
    loop: Annotated[
        bool,
        typer.Option(
            "--loop/--no-loop",
            help="Then the monitoring loop: score a shifted next scrape through the API, run "
            "monitoring_dag, retrain when it asks.",
        ),
    ] = False,
) -> None:
    """Run both Airflow DAGs locally on embedded defaults, print a summary, serve the champion."""
    from occupancy.demo import run_demo

    run_demo(get_settings(), raw=raw, rows=rows, seed=seed, serve=serve, port=port, loop=loop)


def main() -> None:
    """Console-script entry point."""
    # Multi-threaded BLAS spins on the small matrices of these models and was measured 6x slower
    # than one thread on 2-core machines; set before numpy is first imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Typer's own pretty tracebacks would print locals; --debug wants the plain one.
    app(prog_name="occupancy")
