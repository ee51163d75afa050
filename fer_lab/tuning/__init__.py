"""Hyperparameter search (KerasTuner) and Hydra sweeps, tracked as nested MLflow runs."""
