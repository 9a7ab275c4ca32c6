"""Model families, training, evaluation and promotion."""
