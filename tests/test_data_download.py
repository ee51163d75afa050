"""`make data`: the Kaggle download (faked, never a real one), and the steps printed without credentials."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lab.data import download, load_images
from fer_lab.errors import EXIT_USER_ERROR, FerLabError


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(download, "kaggle_api", lambda: pytest.fail("no download without credentials"))


class FakeKaggleApi:
    """Writes a tiny msambare/fer2013 archive's content where dataset_download_files is told to."""

    def __init__(self):
        self.calls = []

    def dataset_download_files(self, dataset, path=None, force=False, quiet=True, unzip=False):
        self.calls.append((dataset, unzip))
        rng = np.random.default_rng(0)
        for split, prefix in (("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")):
            for emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
                folder = Path(path) / split / emotion
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(
                    str(folder / f"{prefix}_{len(self.calls)}{emotion}.jpg"),
                    rng.integers(0, 256, (48, 48), dtype=np.uint8),
                )


def test_without_credentials_prints_the_steps_and_exits_2(no_credentials, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download, "kaggle_installed", lambda: True)
    with pytest.raises(SystemExit) as exit_:
        download.main(["--dest", str(tmp_path / "fer2013")])
    assert exit_.value.code == EXIT_USER_ERROR
    out, err = capsys.readouterr()
    for step in (
        "pip install kaggle",
        "~/.kaggle/kaggle.json",
        "KAGGLE_USERNAME",
        "make data",
        f"kaggle datasets download {download.KAGGLE_DATASET}",
        download.CHALLENGE,
        "fer2013.tar.gz",
        "data.path=",
        "github.com/microsoft/FERPlus",
        "fer2013new.csv",
    ):
        assert step in out, step
    assert err.strip().splitlines() == [
        "fer_lab: error: cannot download FER-2013: Kaggle API credentials not found; follow the steps above"
    ]
    assert not (tmp_path / "fer2013").exists()


def test_without_the_kaggle_package_says_so(no_credentials, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "kaggle_installed", lambda: False)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    with pytest.raises(FerLabError, match="the kaggle package not found"):
        download.download(tmp_path / "fer2013")


@pytest.mark.parametrize("how", ["env", "kaggle.json"])
def test_with_credentials_downloads_into_the_folder_layout(no_credentials, tmp_path, monkeypatch, how, capsys):
    if how == "env":
        monkeypatch.setenv("KAGGLE_USERNAME", "someone")
        monkeypatch.setenv("KAGGLE_KEY", "secret")
    else:
        (tmp_path / "home" / ".kaggle").mkdir(parents=True)
        (tmp_path / "home" / ".kaggle" / "kaggle.json").write_text('{"username": "someone", "key": "secret"}')
    api = FakeKaggleApi()
    monkeypatch.setattr(download, "kaggle_installed", lambda: True)
    monkeypatch.setattr(download, "kaggle_api", lambda: api)
    target = tmp_path / "project" / "data" / "fer2013"
    assert download.download(target) == target
    assert api.calls == [(download.KAGGLE_DATASET, True)]
    assert (target / "train" / "happy").is_dir() and not list(target.parent.glob(".*partial"))
    assert "7 Training, 7 PublicTest, 7 PrivateTest images" in capsys.readouterr().out
    download.download(target)  # already there: nothing to do
    assert len(api.calls) == 1 and "nothing to download" in capsys.readouterr().out
    raw = load_images({"source": "auto", "path": str(target), "cache": False})
    assert sorted(set(raw.usage)) == ["PrivateTest", "PublicTest", "Training"]


def test_failed_download_is_one_clear_error_and_leaves_nothing(no_credentials, tmp_path, monkeypatch):
    class Unauthorized:
        def dataset_download_files(self, *args, **kwargs):
            raise OSError("401 Unauthorized\nlong server reply")

    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    monkeypatch.setattr(download, "kaggle_installed", lambda: True)
    monkeypatch.setattr(download, "kaggle_api", lambda: Unauthorized())
    with pytest.raises(FerLabError, match=r"failed \(401 Unauthorized\): check the credentials") as err:
        download.download(tmp_path / "fer2013")
    assert "make data" in str(err.value) and list(tmp_path.iterdir()) == []


def test_an_unrelated_existing_folder_is_never_overwritten(tmp_path, monkeypatch):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FerLabError, match="holds no train/ folder"):
        download.download(target)
    assert (target / "notes.txt").read_text() == "keep me"


def test_missing_default_data_says_how_to_get_it(state_root, data_cfg):
    with pytest.raises(FerLabError) as err:
        load_images(data_cfg())
    message = str(err.value)
    assert str(state_root / "data" / "fer2013") in message and "make data" in message and "fer2013.csv" in message
