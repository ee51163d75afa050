"""Hyperparameter search with KerasTuner: each study a parent MLflow run, each trial a nested run."""
