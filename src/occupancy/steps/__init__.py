"""The four pipeline steps (DESIGN.md section 5): ingest, treat, train, promote.

Each step reads and writes only under `<lake>/runs/<run id>/`, publishes by writing a manifest
last, and returns a small JSON-able summary. Re-running a finished step returns that summary.
"""
