"""Shared fixtures: an isolated project root and MLflow store per test, Hydra config composition, a tracking server."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest

if TYPE_CHECKING:
    from fer_lab.tracking.local_postgres import LocalPostgres

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def state_root(tmp_path, monkeypatch) -> Path:
    """A fresh FER_LAB_ROOT (checkpoints, caches, artifacts) and SQLite tracking store for one test."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("FER_LAB_ROOT", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    return root


@pytest.fixture(scope="session")
def compose_train():
    """compose_train(*overrides) -> the resolved `train` config, as `python -m fer_lab.train` would see it."""
    from hydra import compose, initialize_config_dir

    import fer_lab.extensions  # noqa: F401  (config schemas)
    from fer_lab.paths import CONF_DIR

    def compose_with(*overrides: str, config_name: str = "train"):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))

    return compose_with


@pytest.fixture
def data_csv(tmp_path):
    """data_csv(rows, name="fer.csv", header=...) -> path of a tiny FER-2013 challenge CSV in tmp_path.

    rows: (emotion, pixels, Usage) tuples; pixels may be an array (written space-separated) or a string.
    Names ending in .gz are gzip-compressed.
    """
    import gzip

    def write(rows, name: str = "fer.csv", header: str = "emotion,pixels,Usage") -> Path:
        def cells(row):
            return (" ".join(map(str, v.ravel())) if hasattr(v, "ravel") else str(v) for v in row)

        text = "\n".join([header, *(",".join(cells(row)) for row in rows)]) + "\n"
        path = tmp_path / name
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
        return path

    return write


@pytest.fixture(scope="module")
def module_root(tmp_path_factory) -> Path:
    """A FER_LAB_ROOT and SQLite tracking store shared by one module's tests, for what they train once."""
    root = tmp_path_factory.mktemp("module_root")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_LAB_ROOT", str(root))
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        yield root


def copy_store(source_root: Path, state_root: Path) -> None:
    """Give a test's own root the runs and registered models of `source_root` (artifacts stay where they are) and
    make its store the tracking store."""
    from fer_lab.tracking.uri import configure_tracking

    shutil.copy(source_root / "mlflow.db", state_root / "mlflow.db")
    configure_tracking(None)


@pytest.fixture
def data_cfg(compose_train):
    """data_cfg(option="fer2013", **overrides) -> the composed `data=<option>` node, cache off, with overrides set
    unchecked (load_images checks them against the source's schema, as it does any config built in code)."""
    from omegaconf import OmegaConf

    composed: dict[str, dict] = {}

    def make(option: str = "fer2013", **overrides):
        if option not in composed:
            composed[option] = OmegaConf.to_container(compose_train(f"data={option}").data, resolve=True)
        data = composed[option]
        return OmegaConf.create({**data, **({"cache": False} if "cache" in data else {}), **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory) -> Path:
    """A bundled-model folder with a tiny untrained model (fer_lab's classes) and a card's accuracies."""
    import keras

    from fer_lab.inference.bundled import write_bundled_model
    from fer_lab.labels import EMOTIONS
    from fer_lab.tracking.model_io import ModelMetadata

    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(
        inputs, keras.layers.Dense(len(EMOTIONS), activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    )
    card = {
        "model_name": "tiny",
        "run_id": "0123abcd",
        "train_minutes": 2.5,
        "val_accuracy": 0.51,
        "test_accuracy": 0.49,
    }
    return write_bundled_model(
        model, ModelMetadata(EMOTIONS, 48, 0.0, "tiny"), card, tmp_path_factory.mktemp("reference")
    ).folder


@pytest.fixture
def tiny_bundled(tiny_model_folder, state_root, monkeypatch) -> Path:
    """The tiny model as the bundled one, in a fresh project root whose registry is empty; returns its folder."""
    from fer_lab.inference import bundled

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tiny_model_folder)
    return tiny_model_folder


BROWSER = {"host": "localhost"}  # TestClient sends Host: testserver on WebSockets whatever its base_url


@pytest.fixture
def make_client(tiny_bundled):
    """make_client(start_uri="bundled", **state_kwargs) -> a TestClient of the app serving the tiny model, sending
    requests to http://localhost as a browser on this machine would."""
    from fastapi.testclient import TestClient

    from fer_lab.app.server import create_app
    from fer_lab.app.serving import ServingState

    clients = []

    def make(start_uri: str = "bundled", **kwargs) -> TestClient:
        state = ServingState(start_uri, detector="haar", tta="none", **kwargs)
        client = TestClient(create_app(state), base_url="http://localhost")
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


class ScriptResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _run_main(capsys, monkeypatch, run, argv0: str, args: tuple[str, ...]) -> ScriptResult:
    """What `python argv0 args` exits with and prints, run as __main__ in this process (no second interpreter
    importing TensorFlow again); an exception it does not turn into an exit fails the test. The environment is
    restored afterwards."""
    monkeypatch.setattr(sys, "argv", [argv0, *args])
    environ = dict(os.environ)
    capsys.readouterr()
    try:
        run()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        if isinstance(exit.code, str):
            print(exit.code, file=sys.stderr)
    finally:
        os.environ.clear()
        os.environ.update(environ)
    out, err = capsys.readouterr()
    return ScriptResult(code, out, err)


@pytest.fixture
def run_script(capsys, monkeypatch):
    """run_script(path, *args) -> ScriptResult of `python path args`, run in this process."""
    import runpy

    def run(path: Path, *args: str) -> ScriptResult:
        monkeypatch.syspath_prepend(str(Path(path).parent))
        return _run_main(capsys, monkeypatch, lambda: runpy.run_path(str(path), run_name="__main__"), str(path), args)

    return run


@pytest.fixture
def run_module(capsys, monkeypatch):
    """run_module(name, *args) -> ScriptResult of `python -m name args` for a Hydra command, run in this process.

    Hydra's logging setup is left out: it would close the handlers pytest captures logs with."""
    import runpy
    import warnings

    def run_as_main(name: str) -> None:
        with warnings.catch_warnings():  # runpy warns that the module was imported before: a fresh copy runs
            warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)
            runpy.run_module(name, run_name="__main__")

    def run(name: str, *args: str) -> ScriptResult:
        args = (*args, "hydra/job_logging=none", "hydra/hydra_logging=none")
        return _run_main(capsys, monkeypatch, lambda: run_as_main(name), name, args)

    return run


class TrackingServer(NamedTuple):
    uri: str  # http://127.0.0.1:<port>
    artifacts: Path  # the server's --artifacts-destination
    postgres: LocalPostgres  # its database cluster (stop() and start() it to take the store down)


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory) -> TrackingServer:
    """A throwaway PostgreSQL cluster and an MLflow server on it, shared by the session; skips without PostgreSQL."""
    from fer_lab.tracking.local_postgres import LocalPostgres, postgres_bin
    from fer_lab.tracking.server import running_server
    from fer_lab.tuning.local_cluster import free_port

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed: no initdb on PATH or in /usr/lib/postgresql/*/bin")
    folder = tmp_path_factory.mktemp("tracking_server")
    with (
        LocalPostgres(free_port()) as postgres,
        running_server(postgres.uri, folder / "artifacts", free_port(), log=folder / "mlflow.log") as uri,
    ):
        yield TrackingServer(uri, folder / "artifacts", postgres)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`), the tests using the session's tracking server
    share a worker, so the server starts once, and so do the tests of a module with module-scoped fixtures, so
    those are built once; every other test goes to whichever worker is free."""
    for item in items:
        if "tracking_server" in item.fixturenames or "[server]" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("tracking_server"))
        elif any(defs[-1].scope == "module" for defs in item._fixtureinfo.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
