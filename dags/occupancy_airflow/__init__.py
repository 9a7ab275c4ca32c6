"""DAG-side helpers: the step factory, the local step runner and the shared Asset.

Imported by the scheduler and dag-processor at parse time, so this package imports only Airflow,
the cncf-kubernetes provider and the Kubernetes client models: never pandas, scikit-learn, mlflow
or the `occupancy` package (which lives in the step image, or in its own venv for local runs).
"""
