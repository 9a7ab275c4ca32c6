"""The three DAGs: they parse fast, without the ML stack, with the expected tasks and links."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from dag_support import DAGS_FOLDER

from occupancy.training.models import FAMILIES

EXPECTED_EDGES = {
    "data_treatment_dag": {
        ("raw_uris", "sources"),
        ("sources", "ingest_arguments"),
        ("sources", "treat_arguments"),
        ("ingest_arguments", "ingest"),
        ("treat_arguments", "treat"),
        ("ingest", "treat"),
        ("treat", "combine"),
        ("combine", "publish_processed"),
    },
    "batch_scoring_dag": {
        ("plan", "chunk_arguments"),
        ("chunk_arguments", "score"),
        ("score", "summarize"),
    },
    "monitoring_dag": {
        ("drift", "performance"),
        ("performance", "report"),
        ("report", "request_retraining"),
    },
    "train_pipeline_dag": {
        ("pipeline_run_id", "check_processed"),
        ("check_processed", "train"),
        ("train", "promote"),
    },
}


def _edges(dag) -> set[tuple[str, str]]:
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def test_dags_import_without_errors_with_the_expected_tasks(load_dags) -> None:
    bag = load_dags()
    assert bag.import_errors == {}
    assert set(bag.dags) == set(EXPECTED_EDGES)
    for dag_id, edges in EXPECTED_EDGES.items():
        dag = bag.dags[dag_id]
        assert _edges(dag) == edges
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.doc_md and "###" in dag.doc_md
        assert "occupancy" in dag.tags
        assert all(task.owner == "occupancy" for task in dag.tasks)


def test_the_processed_asset_links_the_two_dags(load_dags) -> None:
    bag = load_dags()
    publish = bag.dags["data_treatment_dag"].get_task("publish_processed")
    (produced,) = publish.outlets
    scheduled_on = bag.dags["train_pipeline_dag"].timetable.asset_condition.objects
    assert [asset.name for asset in scheduled_on] == [produced.name]


def test_the_retraining_asset_links_monitoring_to_treatment(load_dags) -> None:
    bag = load_dags()
    request = bag.dags["monitoring_dag"].get_task("request_retraining")
    (produced,) = request.outlets
    assert produced.name == "occupancy_retraining_needed"
    scheduled_on = bag.dags["data_treatment_dag"].timetable.asset_condition.objects
    assert [asset.name for asset in scheduled_on] == [produced.name]
    assert bag.dags["monitoring_dag"].timetable.expression == "0 0 * * *"  # daily
    # Only the report returns its summary (the request reads it): the one pod with a sidecar.
    monitoring = bag.dags["monitoring_dag"]
    assert [t.task_id for t in monitoring.tasks if getattr(t, "result", False)] == ["report"]


def test_training_fans_out_one_mapped_task_per_family(load_dags) -> None:
    bag = load_dags()
    train = bag.dags["train_pipeline_dag"].get_task("train")
    arguments = train.expand_input.value["arguments"]
    assert [a[-1] for a in arguments] == list(FAMILIES)  # the DAG's default is the product's
    assert all(a[:2] == ["step", "train"] for a in arguments)
    limited = load_dags(OCCUPANCY_MODEL_FAMILIES="hgb,logreg").dags["train_pipeline_dag"]
    assert [a[-1] for a in limited.get_task("train").expand_input.value["arguments"]] == [
        "hgb",
        "logreg",
    ]


def test_the_training_fan_out_runs_a_bounded_number_of_pods_at_once(load_dags) -> None:
    train = load_dags().dags["train_pipeline_dag"].get_task("train")
    assert train.max_active_tis_per_dag == 2  # what a laptop's kind node holds beside the platform
    wide = load_dags(OCCUPANCY_TRAIN_CONCURRENCY="4").dags["train_pipeline_dag"]
    assert wide.get_task("train").max_active_tis_per_dag == 4
    for name, bad in (
        ("OCCUPANCY_TRAIN_CONCURRENCY", "0"),
        ("OCCUPANCY_TRAIN_MEMORY_REQUEST", "lots"),
    ):
        bag = load_dags(**{name: bad})
        assert bag.import_errors
        assert all(name in error for error in bag.import_errors.values())


def test_ingest_and_treat_map_over_the_sources_a_bounded_number_at_a_time(load_dags) -> None:
    from mapped_steps import ONE_ELEMENT, mapped_arguments

    dag = load_dags().dags["data_treatment_dag"]
    ingest, treat, combine = (dag.get_task(t) for t in ("ingest", "treat", "combine"))
    (ingest_args,) = mapped_arguments(ingest)
    assert ingest_args == [
        *("step", "ingest", "--run-id", "{{ run_id }}"),
        *("--raw", "{{ raw }}", "--source", "{{ source }}"),
    ]
    assert mapped_arguments(treat) == [
        ["step", "treat", "--run-id", "{{ run_id }}", "--source", "{{ source }}"]
    ]
    assert len(ONE_ELEMENT["sources"]) == 1
    # One source's failure must not stop the others' treat, nor the combine step's policy.
    assert (ingest.trigger_rule, treat.trigger_rule, combine.trigger_rule) == (
        "all_success",
        "all_done",
        "all_done",
    )
    assert ingest.max_active_tis_per_dagrun == treat.max_active_tis_per_dagrun == 2
    wide = load_dags(OCCUPANCY_MAX_PARALLEL_SOURCES="6").dags["data_treatment_dag"]
    assert wide.get_task("ingest").max_active_tis_per_dagrun == 6
    bag = load_dags(OCCUPANCY_MAX_PARALLEL_SOURCES="none")
    assert all("OCCUPANCY_MAX_PARALLEL_SOURCES" in e for e in bag.import_errors.values())


def test_batch_scoring_maps_one_pod_per_chunk_of_the_plan(load_dags) -> None:
    from mapped_steps import mapped_arguments

    dag = load_dags(OCCUPANCY_SCORE_CONCURRENCY="3").dags["batch_scoring_dag"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # on demand only
    plan, score = dag.get_task("plan"), dag.get_task("score")
    assert (
        plan.arguments[:2] == ["step", "score-plan"] and "{{ params.input_uri }}" in plan.arguments
    )
    assert mapped_arguments(score) == [
        ["step", "score", "--run-id", "{{ run_id }}", "--chunk", "{{ chunk }}"]
    ]
    assert score.max_active_tis_per_dagrun == 3


def test_a_bad_setting_is_an_import_error_that_names_it(load_dags) -> None:
    bag = load_dags(OCCUPANCY_STEP_RUNNER="docker")
    assert bag.import_errors
    assert all("OCCUPANCY_STEP_RUNNER" in error for error in bag.import_errors.values())


def test_dag_files_parse_fast_without_the_ml_stack() -> None:
    """Each DAG file in a fresh interpreter: parse time reported, heavy libraries never imported."""
    for name in ("data_treatment_dag.py", "train_pipeline_dag.py", "monitoring_dag.py"):
        code = (
            "import sys, time\n"
            f"sys.path.append({str(DAGS_FOLDER)!r})\n"
            "import airflow.sdk\n"  # Airflow itself is already loaded in a dag-processor
            "started = time.perf_counter()\n"
            "import runpy\n"
            f"runpy.run_path({str(DAGS_FOLDER / name)!r})\n"
            "seconds = time.perf_counter() - started\n"
            "heavy = [m for m in ('pandas', 'sklearn', 'mlflow', 'pyarrow', 'occupancy') "
            "if m in sys.modules]\n"
            "import json; print(json.dumps([seconds, heavy]))\n"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
        )
        seconds, heavy = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name}: parsed in {seconds * 1000:.0f} ms ({time.perf_counter() - started:.1f} s with Airflow start-up)"
        )
        assert heavy == [], f"{name} imported {heavy}"
        assert seconds < 2.0, f"{name} took {seconds:.2f} s to parse"
