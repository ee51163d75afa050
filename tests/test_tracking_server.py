"""The team tracking server: MLflow on a throwaway PostgreSQL cluster, artifacts served from its folder. Training,
registration and promotion through it; dead, foreign and storeless servers and a refused database each give one
message and leave nothing behind."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab.errors import EXIT_USER_ERROR, report_user_errors
from fer_lab.promote import main as promote
from fer_lab.tracking.server import stop_process_group, wait_healthy
from fer_lab.training import run as train_run
from fer_lab.tuning.local_cluster import free_port

ROOT = Path(__file__).resolve().parents[1]
TINY = (
    "data=synthetic",
    "data.samples_per_class=10",
    "model=cnn_tiny",
    "trainer.epochs=1",
    "trainer.verbose=0",
    "evaluation.sample_grid=4",
)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_train_register_and_promote_store_everything_on_the_server(tracking_server, state_root, compose_train):
    server, name = tracking_server, "server_model"
    cfg = compose_train(
        *TINY,
        "task_name=server",
        f"mlflow.registered_model_name={name}",
        "mlflow.promote=never",
        f"mlflow.tracking_uri={server.uri}",
    )
    summary = train_run.run_training(cfg)
    promote(["--name", name, "--tracking-uri", server.uri])
    client = MlflowClient(server.uri, server.uri)
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.version == summary.model_version and champion.run_id == summary.run_id
    run = client.get_run(summary.run_id)
    assert run.info.status == "FINISHED" and run.info.artifact_uri.startswith("mlflow-artifacts:/")
    stored = {p.relative_to(server.artifacts).as_posix() for p in _files(server.artifacts)}
    experiment = run.info.experiment_id
    assert any(p.startswith(f"{experiment}/models/") and p.endswith("/MLmodel") for p in stored), stored
    assert f"{experiment}/{summary.run_id}/artifacts/figures/confusion_test.png" in stored
    assert not (state_root / "mlartifacts").exists() and not (state_root / "mlflow.db").exists()
    model = mlflow.keras.load_model(f"models:/{name}@champion")  # downloaded through the server
    assert model.output_shape[-1] == 7


def _not_found(path: str) -> tuple[int, bytes]:
    return 404, b"no such page"


def _ok_to_everything(path: str) -> tuple[int, bytes]:
    return 200, b"OK"


def _host_not_allowed(path: str) -> tuple[int, bytes]:
    """MLflow's answer to a Host header outside --allowed-hosts (it exempts /health)."""
    return (200, b"OK") if path == "/health" else (403, b"Invalid Host header - possible DNS rebinding attack detected")


@pytest.fixture
def web_server(request):
    """http://127.0.0.1:<port> of a web server answering GET path with request.param(path) -> (status, body)."""
    answer = request.param

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _train_refused(compose_train, capsys, uri: str) -> str:
    with pytest.raises(SystemExit) as exited:
        report_user_errors(train_run.run_training)(
            compose_train(*TINY, "task_name=refused", f"mlflow.tracking_uri={uri}")
        )
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_USER_ERROR, err
    assert err.count("fer_lab: error:") == 1 and "Traceback" not in err
    return err


def test_dead_server_uri_is_refused_before_anything_is_written(state_root, compose_train, capsys):
    uri = f"http://127.0.0.1:{free_port()}"
    err = _train_refused(compose_train, capsys, uri)
    assert f"the MLflow tracking server at {uri} is unreachable (" in err and "make server" in err
    assert not any(state_root.iterdir())


@pytest.mark.parametrize(
    "web_server,why",
    [(_not_found, "/health gave HTTP 404"), (_ok_to_everything, "did not answer a JSON object")],
    indirect=["web_server"],
    ids=["404", "ok-to-everything"],
)
def test_a_server_that_is_not_mlflow_is_refused(state_root, compose_train, capsys, web_server, why):
    err = _train_refused(compose_train, capsys, web_server)
    assert f"{web_server} answers, but not as an MLflow tracking server" in err and why in err
    assert "mlflow.tracking_uri" in err
    assert not any(state_root.iterdir())


@pytest.mark.parametrize("web_server", [_host_not_allowed], indirect=True)
def test_a_host_name_the_server_does_not_allow_is_refused(state_root, compose_train, capsys, web_server):
    host = web_server.removeprefix("http://")
    err = _train_refused(compose_train, capsys, web_server)
    assert f"the MLflow tracking server at {web_server} refuses the host name {host} (Invalid Host header" in err
    assert f"MLFLOW_SERVER_ALLOWED_HOSTS='{host},localhost:*' make server" in err
    assert not any(state_root.iterdir())


def test_a_server_whose_database_is_down_is_refused_and_nothing_is_written(
    tracking_server, state_root, compose_train, capsys
):
    server = tracking_server
    before = _files(server.artifacts)
    server.postgres.stop()
    try:
        err = _train_refused(compose_train, capsys, server.uri)
    finally:
        server.postgres.start()
    assert f"the MLflow tracking server at {server.uri} answers, but its backend store fails (" in err
    assert "Connection refused" in err and "Start the database" in err
    assert MlflowClient(server.uri).get_experiment_by_name("refused") is None
    assert _files(server.artifacts) == before and not any(state_root.iterdir())


def _make_server(tmp_path: Path, db: str, port: int, **popen) -> subprocess.Popen:
    command = [
        "make",
        "--no-print-directory",
        "-o",
        "install",
        "server",
        f"PY={sys.executable}",
        f"SERVER_DB={db}",
        f"SERVER_ARTIFACTS={tmp_path / 'artifacts'}",
        f"SERVER_PORT={port}",
    ]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("database", ["stopped", "missing"])
def test_make_server_refuses_a_database_it_cannot_reach(tracking_server, tmp_path, database):
    postgres = tracking_server.postgres
    db = {
        "stopped": f"postgresql://fer_lab@127.0.0.1:{free_port()}/mlflow",
        "missing": postgres.uri.rsplit("/", 1)[0] + "/nope",
    }[database]
    _out, err = _make_server(tmp_path, db, free_port()).communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.startswith("fer_lab: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"PostgreSQL refused the connection to {db} (" in lines[0] and "createdb -h 127.0.0.1 -p " in lines[0]
    assert {"stopped": "Connection refused", "missing": 'database "nope" does not exist'}[database] in lines[0]
    assert not (tmp_path / "artifacts").exists()


def test_make_server_serves_a_database(tracking_server, tmp_path):
    import psycopg

    postgres = tracking_server.postgres
    with psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "make_server"')
    port = free_port()
    proc = _make_server(tmp_path, postgres.uri.rsplit("/", 1)[0] + "/make_server", port, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(uri, proc, timeout_s=180)
        assert MlflowClient(uri).get_experiment_by_name("Default").artifact_location == "mlflow-artifacts:/0"
    finally:
        stop_process_group(proc)
        out, _ = proc.communicate(timeout=30)
    assert f"point commands at mlflow.tracking_uri={uri}" in out
