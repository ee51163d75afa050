"""Imports every module that owns a registry (fer_lab.registry), so that the typed configs of all extension
points are in Hydra's ConfigStore before a command composes its config. train, tune and the tests import it; the
lighter commands import just the registries of the groups they compose (audit and evaluate: data; live: detector)."""

import fer_lab.config  # noqa: F401  (the ${fer_lab_root:} resolver)
from fer_lab import models  # noqa: F401  (model.arch; augmentation layers)
from fer_lab.data import sources  # noqa: F401  (data.source)
from fer_lab.inference import detectors  # noqa: F401  (detector.name)
from fer_lab.training import optimizers, schedules  # noqa: F401  (optimizer.name, schedule.name)
from fer_lab.tuning import tuners  # noqa: F401  (tuner.name)
