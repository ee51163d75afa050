"""`python -m fer_lab.train [overrides]`: train, evaluate, track and register one model."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import fer_lab.config  # noqa: F401  (registers the fer_lab_root resolver)
from fer_lab.errors import report_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from fer_lab.training.run import run_training

    run_training(cfg, overrides=list(HydraConfig.get().overrides.task))


if __name__ == "__main__":
    main()
