"""Monitoring: a model's reference profile at training, and drift measured against it."""
