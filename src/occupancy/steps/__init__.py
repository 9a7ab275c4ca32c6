"""The pipeline steps (DESIGN.md section 5), one module each, what every Airflow task runs.

    ingest    validate the raw CSV, snapshot the valid rows, quarantine the rest
    treat     clean, derive the target and the host-grouped split, publish the training table
    check     the training DAG's first task: the run's training table is published
    train     fit one model family, log it as an MLflow child run
    promote   pick the best family, gate it against the champion, register, move the alias

Steps read and write the lake only through `occupancy.run_layout` (publish by writing a manifest
last) and MLflow only through `occupancy.registry`; each returns a small JSON-able summary, and
re-running a finished step returns that summary.
"""
