"""Hyperparameter search: search-space parsing, a tracked 3-trial study killed and resumed, bad input."""

from __future__ import annotations

import json
import re

import keras_tuner
import pytest
from hydra.errors import MissingConfigException
from mlflow import MlflowClient
from omegaconf import OmegaConf, open_dict

from fer_lab.errors import FerLabError
from fer_lab.paths import CONF_DIR
from fer_lab.tuning import run as study_run
from fer_lab.tuning.hypermodel import FerHyperModel
from fer_lab.tuning.search_space import apply, declare, overrides, parse_space

TINY = (
    "data=synthetic",
    "data.samples_per_class=10",
    "model=cnn_tiny",
    "trainer.epochs=1",
    "trainer.verbose=0",
    "evaluation.tta=none",
    "evaluation.sample_grid=4",
    "tuner.max_trials=3",
    "mlflow.registered_model_name=tune_t",
)


@pytest.fixture
def compose_tune(compose_train):
    return lambda *overrides: compose_train(*TINY, *overrides, config_name="tune")


def _runs(parent_id: str) -> list:
    client = MlflowClient()
    experiment = client.get_run(parent_id).info.experiment_id
    return client.search_runs(
        [experiment], f"tags.`mlflow.parentRunId` = '{parent_id}'", order_by=["attributes.start_time ASC"]
    )


def test_every_model_has_a_search_space_that_parses(compose_train):
    for option in sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml")):
        params = parse_space(compose_train(f"model={option}", config_name="tune"))
        assert params, option


def test_values_go_to_their_config_keys_and_back_to_overrides(compose_tune):
    cfg = compose_tune("model=custom_cnn", "search_space=custom_cnn")
    params = parse_space(cfg)
    hp = keras_tuner.HyperParameters()
    values = declare(hp, params)
    values.update(learning_rate=0.002, blocks="c32_64_128", augmentation="heavy", class_weight="none")
    out = apply(cfg, params, values)
    assert out.optimizer.learning_rate == 0.002
    assert [b.filters for b in out.model.blocks] == [32, 64, 128]
    assert out.augmentation.mixup == OmegaConf.load(CONF_DIR / "augmentation" / "heavy.yaml").mixup
    assert out.training.class_weight == "none" and cfg.optimizer.learning_rate != 0.002  # a copy
    text = overrides(params, values)
    assert text[0] == "augmentation=heavy"
    assert "model.blocks=[{filters:32,convs:2},{filters:64,convs:2},{filters:128,convs:2}]" in text


def test_group_entries_swap_in_the_option_as_hydra_composes_it(compose_tune):
    cfg = compose_tune()
    with open_dict(cfg):
        cfg.search_space = {
            "opt": {"key": "optimizer", "type": "group", "values": ["adam", "sgd_nesterov"]},
            "lr": {"key": "optimizer.learning_rate", "type": "float", "min": 1e-4, "max": 1e-2},
        }
    params = parse_space(cfg)
    out = apply(cfg, params, {"opt": "sgd_nesterov", "lr": 0.005})
    assert (out.optimizer.name, out.optimizer.momentum, out.optimizer.learning_rate) == ("sgd", 0.9, 0.005)
    assert overrides(params, {"opt": "sgd_nesterov", "lr": 0.005}) == [
        "optimizer=sgd_nesterov",
        "optimizer.learning_rate=0.005",
    ]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"key": "model.nonexistent", "type": "float", "min": 0, "max": 1}, "model.nonexistent is not a key"),
        ({"key": "optimizer.learning_rate", "type": "floaty", "min": 0, "max": 1}, "type='floaty' is unknown"),
        (
            {"key": "optimizer.learning_rate", "type": "float", "min": 0, "max": 1, "sampleing": "log"},
            "unknown field.*sampleing",
        ),
        ({"key": "optimizer.learning_rate", "type": "float", "min": 1, "max": 0}, "min < max"),
        ({"key": "evaluation.tta", "type": "choice", "values": ["flip"]}, "cannot be tuned"),
        ({"key": "augmentation", "type": "group", "values": ["light", "extreme"]}, "augmentation/extreme.yaml"),
        ({"key": "optimizer.learning_rate", "type": "float", "min": 0, "max": 1, "sampling": "cube"}, "is unknown"),
        ({"key": "optimizer.learning_rate", "type": "float", "min": 0, "max": 1, "sampling": "log"}, "needs min > 0"),
        ({"key": "trainer.batch_size", "type": "int", "min": 8.5, "max": 64}, "integer min and max"),
        ({"key": "optimizer.learning_rate", "type": "float", "min": 0, "max": 1, "default": 2}, "lies outside"),
        ({"key": "optimizer.learning_rate", "type": "choice", "values": []}, "non-empty list"),
        ({"key": "trainer.batch_size", "type": "choice", "values": [8, 16], "default": 32}, "is not one of its values"),
        ({"type": "float", "min": 0, "max": 1}, "key is missing"),
        (0.5, "must be a mapping"),
    ],
)
def test_bad_search_space_entries_name_the_problem(compose_tune, entry, message):
    cfg = compose_tune()
    with open_dict(cfg):
        cfg.search_space.bad = entry
    with pytest.raises(FerLabError, match=message):
        parse_space(cfg)


def test_a_study_killed_in_its_third_trial_resumes_nests_its_trials_and_registers_the_best(
    state_root, compose_tune, monkeypatch
):
    cfg = compose_tune("tuner.study=three")
    calls = []
    fit = FerHyperModel.fit

    def fit_then_die_in_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is killed during trial 3
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(FerHyperModel, "fit", fit_then_die_in_third)
    with pytest.raises(KeyboardInterrupt):
        study_run.run_study(cfg, list(TINY), "cnn_tiny")
    record = json.loads((state_root / "tuner" / "three" / "study.json").read_text())
    client = MlflowClient()
    assert client.get_run(record["parent_run_id"]).info.status == "KILLED"

    calls.clear()
    monkeypatch.setattr(FerHyperModel, "fit", lambda self, *a, **k: calls.append(1) or fit(self, *a, **k))
    result = study_run.run_study(cfg, list(TINY), "cnn_tiny")
    assert len(calls) == 1  # only the interrupted trial ran again
    assert result.parent_run_id == record["parent_run_id"]
    runs = _runs(result.parent_run_id)
    trials = [r for r in runs if r.data.tags.get("fer_lab.role") == "trial"]
    assert sorted(r.info.status for r in trials) == ["FINISHED", "FINISHED", "FINISHED", "KILLED"]
    finished = [r for r in trials if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["fer_lab.trial_id"] for r in finished) == ["0", "1", "2"]
    assert {r.data.tags["fer_lab.trial_status"] for r in finished} == {"COMPLETED"}
    assert all("val_macro_f1" in r.data.metrics and "epoch/val_macro_f1" in r.data.metrics for r in finished)
    assert all("hp.learning_rate" in r.data.params for r in finished)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials_completed"] == 3
    assert {"summary/trials.csv", "summary/objective_by_trial.png"} <= {
        a.path for a in client.list_artifacts(result.parent_run_id, "summary")
    }
    version = client.get_model_version("tune_t", result.model_version)  # the best trial, retrained and registered
    assert client.get_run(version.run_id).data.tags["mlflow.parentRunId"] == result.parent_run_id
    assert version.run_id == result.retrain_run_id
    assert max(r.data.metrics["val_macro_f1"] for r in finished) == pytest.approx(result.best_value)
    again = study_run.run_study(cfg, list(TINY), "cnn_tiny")  # the same command again: nothing left to do
    assert again == result and len(_runs(result.parent_run_id)) == len(runs)


def test_changed_search_space_is_refused_and_the_study_kept(state_root, compose_tune):
    from fer_lab.tuning.study import Study

    Study(state_root, "fixed").open(compose_tune("tuner.study=fixed"), overwrite=False)
    (state_root / "tuner" / "fixed" / "oracle.json").write_text("{}")  # as if trials had run
    before = (state_root / "tuner" / "fixed" / "study.json").read_text()
    changed = compose_tune("tuner.study=fixed", "search_space.learning_rate.max=0.05")
    with pytest.raises(FerLabError, match=r"learning_rate.max.*tuner.study=<name>.*tuner.overwrite=true"):
        study_run.run_study(changed, [], "cnn_tiny")
    assert (state_root / "tuner" / "fixed" / "study.json").read_text() == before


def test_study_without_trials_is_replaced_and_overwrite_starts_afresh(state_root, compose_tune):
    from fer_lab.tuning.study import Study

    study = Study(state_root, "s")
    first = study.open(compose_tune(), overwrite=False)
    second = study.open(compose_tune("search_space.learning_rate.max=0.05"), overwrite=False)
    assert second.fingerprint != first.fingerprint  # nothing had run: no refusal
    (study.path / "oracle.json").write_text("{}")
    (study.path / "trial_0").mkdir()
    third = study.open(compose_tune(), overwrite=True)
    assert third.fingerprint == first.fingerprint and not (study.path / "trial_0").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("tuner.objective=val_auc", "val_auc is never logged.*val_macro_f1"),
        ("tuner.objective=test_accuracy", "not a validation metric"),
        ("tuner.name=grid", re.escape("unknown tuner.name='grid': choose one of random | bayesian | hyperband")),
        ("tuner.max_trials=0", "tuner.max_trials=0 must be an integer >= 1"),
        ("search_space.class_weight.values=[none,bogus]", "class_weight='bogus' makes an invalid config"),
    ],
)
def test_bad_study_settings_fail_before_any_state_is_written(state_root, compose_tune, override, message):
    with pytest.raises(FerLabError, match=message):
        study_run.run_study(compose_tune("tuner.study=bad", override), [], "cnn_tiny")
    assert not (state_root / "tuner").exists()


@pytest.mark.parametrize(
    "tuner, algorithm",
    [
        ("random", {}),
        ("bayesian", {"num_initial_points": None, "alpha": 1.0e-4, "beta": 2.6}),
        ("hyperband", {"max_epochs": 2, "factor": 3, "hyperband_iterations": 1}),
    ],
)
def test_each_tuner_keeps_the_shared_settings_and_adds_its_own(compose_train, compose_tune, tuner, algorithm):
    from fer_lab.tuning.tuners import SHARED_KEYS, check_tuner

    tcfg = check_tuner(compose_tune(f"tuner={tuner}", "tuner.trial_epochs=2").tuner)
    assert tcfg.name == tuner and tcfg.objective == "val_macro_f1" and tcfg.distributed.port == 8000
    assert {k: v for k, v in tcfg.items() if k not in SHARED_KEYS} == algorithm
    default = compose_train(f"tuner={tuner}", config_name="tune").tuner.max_trials
    assert default == (None if tuner == "hyperband" else 20)  # hyperband: its own schedule decides


@pytest.mark.parametrize(
    "override, key",
    [
        ("tuner.max_trials=null", "tuner.max_trials"),  # only hyperband has a schedule of its own
        ("tuner.factor=2", "tuner.factor"),  # a hyperband setting on random search
        ("tuner.distributed.role=boss", "tuner.distributed.role"),
    ],
)
def test_tuner_settings_are_checked_when_the_config_is_composed(compose_tune, override, key):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=key):
        compose_tune(override)


def test_empty_search_space_is_refused(compose_tune):
    cfg = compose_tune()
    with open_dict(cfg):
        for name in list(cfg.search_space):
            cfg.search_space[name] = None
    with pytest.raises(FerLabError, match="search space is empty"):
        study_run.run_study(cfg, [], "cnn_tiny")


def test_worker_without_chief_gives_up_quickly(state_root, compose_tune, monkeypatch):
    from fer_lab.tuning.local_cluster import free_port

    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.setenv(name, "")  # configure_role sets them: make monkeypatch remove them afterwards
        monkeypatch.delenv(name)
    cfg = compose_tune(
        "tuner.distributed.role=worker",
        f"tuner.distributed.port={free_port()}",
        "tuner.distributed.connect_timeout_s=1",
    )
    with pytest.raises(FerLabError, match=r"cannot reach the tuning chief at 127\.0\.0\.1"):
        study_run.run_study(cfg, [], "cnn_tiny")
    assert not (state_root / "tuner").exists()


def test_unknown_tuner_option_is_refused_with_the_available_ones(compose_train):
    with pytest.raises(MissingConfigException, match=r"tuner/grid(.|\n)*random"):
        compose_train("tuner=grid", config_name="tune")


def test_search_space_values_and_ranges_declare_their_hyperparameters():
    from fer_lab.tuning.search_space import HyperParam

    hp = keras_tuner.HyperParameters()
    params = [
        HyperParam("lr", "optimizer.learning_rate", "float", 1e-4, 1e-2, sampling="log"),
        HyperParam("batch", "trainer.batch_size", "int", 16, 64, step=16),
        HyperParam("ema", "optimizer.use_ema", "bool"),
        HyperParam("opt", "optimizer", "group", labels=("adam", "sgd_nesterov")),
    ]
    values = declare(hp, params)
    assert set(values) == {"lr", "batch", "ema", "opt"} and values["batch"] in (16, 32, 48, 64)
    assert params[0].bounds == (1e-4, 1e-2)
    with pytest.raises(ValueError, match=r"search_space\.ema is a bool, not a range"):
        _ = params[2].bounds
