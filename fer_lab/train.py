"""`python -m fer_lab.train [overrides]`: train, evaluate, track and register one model."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import fer_lab.extensions  # noqa: F401  (every extension point's config schema; the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.tracking.sweep import run_entry


@checked_overrides("train")
@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from fer_lab.training.cross_validation import cross_validate
    from fer_lab.training.run import run_training

    overrides = list(HydraConfig.get().overrides.task)
    train = cross_validate if cfg.evaluation.cross_validate else run_training
    run_entry(lambda parent: train(cfg, overrides=overrides, parent_run_id=parent))


if __name__ == "__main__":
    main()
