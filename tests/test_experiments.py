"""Reference recipes in experiments/: each composes as `+experiment=<name>` and builds its model."""

from __future__ import annotations

import pytest

from fer_lab.models import build_model
from fer_lab.paths import CONF_DIR
from fer_lab.training.checks import validate_train_config

EXPERIMENT_DIR = CONF_DIR / "experiment"
# every YAML of experiments/ is a recipe, except bases that recipes inherit and the measured results
EXPERIMENTS = sorted(
    p.stem for p in EXPERIMENT_DIR.glob("*.yaml") if not p.stem.endswith("_base") and p.stem != "results"
)
REFERENCE_RECIPES = {
    "cnn_cpu_budget",
    "cnn_best",
    "vgg16_transfer",
    "vgg16_scratch",
    "resnet50v2_transfer",
    "resnet50v2_scratch",
    "seed_baselines",
    "ferplus",
}
SMALL_BACKBONE = ("model.weights=null", "model.input_size=32")  # builds fast and offline


def test_every_reference_recipe_exists():
    assert set(EXPERIMENTS) >= REFERENCE_RECIPES


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_recipe_composes_and_validates_with_its_run_name(compose_train, experiment):
    cfg = compose_train(f"+experiment={experiment}")
    validate_train_config(cfg)
    assert cfg.mlflow.run_name


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_recipe_builds_its_model(compose_train, experiment):
    cfg = compose_train(f"+experiment={experiment}")
    if cfg.model.arch != "custom_cnn":
        cfg = compose_train(f"+experiment={experiment}", *SMALL_BACKBONE)
    model = build_model(cfg.model, cfg.augmentation, (48, 48, 1), 7)
    assert model.output_shape == (None, 7)


def test_transfer_recipes_share_their_base(compose_train):
    vgg, resnet = (compose_train(f"+experiment={arch}_transfer") for arch in ("vgg16", "resnet50v2"))
    assert (vgg.model.arch, resnet.model.arch) == ("vgg16", "resnet50v2")
    for cfg in (vgg, resnet):
        assert cfg.model.weights == "imagenet" and cfg.model.input_size == 224
        assert cfg.model.fine_tune.unfreeze_top == -1 and cfg.optimizer.learning_rate == 0.01
        assert cfg.evaluation.tta == "crops"


def test_scratch_variants_differ_from_transfer_only_in_initialisation(compose_train):
    for arch in ("vgg16", "resnet50v2"):
        transfer, scratch = (compose_train(f"+experiment={arch}_{kind}") for kind in ("transfer", "scratch"))
        assert transfer.model.weights == "imagenet" and scratch.model.weights is None
        assert scratch.model.arch == transfer.model.arch == arch


def test_seed_baselines_sweep_the_three_seed_nets(compose_train):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        hydra_cfg = compose("train", overrides=["+experiment=seed_baselines"], return_hydra_config=True).hydra
    models = hydra_cfg.sweeper.params.model.split(",")
    assert models == ["cnn_3block", "cnn_4block", "cnn_5block"]
    for name in models:
        cfg = compose_train("+experiment=seed_baselines", f"model={name}")
        assert cfg.model.name == name and cfg.mlflow.run_name == f"seed_{name}"
        assert cfg.training.class_weight == "none"


def test_ferplus_recipe_reads_crowd_votes(compose_train):
    cfg = compose_train("+experiment=ferplus")
    assert cfg.data.source == "ferplus" and cfg.data.label_mode == "majority"
    assert cfg.trainer.max_minutes == compose_train("+experiment=cnn_cpu_budget").trainer.max_minutes
