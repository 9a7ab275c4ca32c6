"""The prediction API: FastAPI app, request schemas, the model holder and Prometheus metrics."""
