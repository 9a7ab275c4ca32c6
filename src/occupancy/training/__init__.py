"""Pure ML: the model families, evaluation, and a run's training table read back as X / y."""
