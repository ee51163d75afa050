"""`python -m fer_lab.tune [overrides]`: hyperparameter search by KerasTuner, tracked in MLflow (conf/tune.yaml)."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import fer_lab.extensions  # noqa: F401  (every extension point's config schema; the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.tracking.sweep import run_entry


@checked_overrides("tune")
@hydra.main(version_base="1.3", config_path="../conf", config_name="tune")
def main(cfg: DictConfig) -> None:
    from fer_lab.tuning.run import run_study

    hc = HydraConfig.get()
    run_entry(lambda parent: run_study(cfg, list(hc.overrides.task), hc.runtime.choices.get("model"), parent))


if __name__ == "__main__":
    main()
