"""The prediction API (FastAPI), one module per concern.

    app           `create_app`: state, routers, error handlers, middleware, start-up and shutdown
    routes/       one router per concern: health, model (+ admin reload), predict, metrics
    dependencies  what routes read from the app's state (holder, settings, metrics, draining)
    auth          the admin bearer token
    scoring       validation and the small-batch (fast path) / large-batch (pipeline) choice
    holder        the served model, polled from the registry alias and swapped atomically
    fastpath      the NumPy replay of a fitted pipeline for small batches
    errors        the one table from errors to HTTP statuses
    middleware    request id, body-size limit, metrics, one JSON log line per request
    metrics       the Prometheus metrics of one app
    schemas       request and response bodies
    server        uvicorn with one worker or several, log output
    shutdown      the drain before stopping: one process, or a supervisor and all its workers

It serves models and never trains them: nothing here imports `occupancy.training` or MLflow
(the registry does that), as the import-linter contracts in pyproject.toml check.
"""
