"""One study = one absolute folder <paths.root>/tuner/<study> holding KerasTuner's state and study.json.

study.json keeps the fingerprint of what the trials' results depend on (search space, data, model,
training setup, objective, tuner algorithm), the MLflow parent run id and the retrained model's run. A rerun
with the same fingerprint resumes; a different one is refused rather than silently mixed in.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from omegaconf import DictConfig

from fer_lab.config import to_plain_dict
from fer_lab.errors import FerLabError

RECORD = "study.json"
LOCK = ".lock"
# tuner keys that do not change what a trial computes: changing them continues the same study.
_RESUMABLE_TUNER_KEYS = ("study", "overwrite", "max_trials", "distributed", "retrain")
_SECTIONS = (
    "search_space",
    "data",
    "model",
    "augmentation",
    "optimizer",
    "schedule",
    "trainer",
    "training",
    "seed",
    "tuner",
)


@dataclass
class StudyRecord:
    """Contents of study.json."""

    name: str
    fingerprint: dict
    parent_run_id: str | None = None
    tracking_uri: str | None = None
    retrained_trial: str | None = None  # trial whose configuration was retrained last
    retrain_run_id: str | None = None
    model_version: str | None = None


def study_name(cfg: DictConfig, model_choice: str | None) -> str:
    """tuner.study, else <model config>-<tuner>, so that rerunning the same command resumes."""
    name = cfg.tuner.get("study") or f"{model_choice or cfg.model.name}-{cfg.tuner.name}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", str(name)):
        raise FerLabError(f"tuner.study={name!r}: use letters, digits, '.', '_' and '-' only")
    return str(name)


def fingerprint(cfg: DictConfig) -> dict:
    """The resolved config sections trial results depend on (minus resumable tuner keys and the retrain length)."""
    plain = to_plain_dict(cfg)
    out = {k: plain[k] for k in _SECTIONS if k in plain}
    for key in ("resume", "verbose", "epochs"):  # trials train for tuner.trial_epochs
        out.get("trainer", {}).pop(key, None)
    for key in _RESUMABLE_TUNER_KEYS:
        out.get("tuner", {}).pop(key, None)
    return json.loads(json.dumps(out, default=str))


class Study:
    """The study folder: lock, record and compatibility checks."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.path = Path(root).resolve() / "tuner" / name
        self.record_path = self.path / RECORD
        self._lock: TextIO | None = None

    def load(self) -> StudyRecord | None:
        if not self.record_path.exists():
            return None
        try:
            return StudyRecord(**json.loads(self.record_path.read_text()))
        except (ValueError, TypeError) as err:
            raise FerLabError(
                f"{self.record_path} is unreadable ({err}); start afresh with tuner.overwrite=true "
                "or choose another tuner.study"
            ) from None

    def save(self, record: StudyRecord) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=1))
        os.replace(tmp, self.record_path)

    def lock(self) -> None:
        """Hold an exclusive lock on the study for this process (a second chief/search is refused)."""
        self.path.mkdir(parents=True, exist_ok=True)
        # Held open on purpose: the lock lasts as long as the handle.
        handle = open(self.path / LOCK, "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise FerLabError(
                f"study {self.name} ({self.path}) is in use by another fer_lab.tune process; wait "
                "for it, or start workers with tuner.distributed.role=worker"
            ) from None
        self._lock = handle

    def started(self) -> bool:
        """Whether KerasTuner has written state (its oracle) for this study."""
        return (self.path / "oracle.json").exists()

    def wipe(self) -> None:
        """Delete the study's state (tuner.overwrite=true); the lock file survives."""
        for child in self.path.iterdir() if self.path.exists() else ():
            if child.name != LOCK:
                shutil.rmtree(child) if child.is_dir() else child.unlink()

    def open(self, cfg: DictConfig, overwrite: bool) -> StudyRecord:
        """The record to continue: the existing one when its fingerprint matches, else a fresh one.

        A different fingerprint is refused once trials exist (unless `overwrite`); a study that never got
        to its first trial is simply replaced.
        """
        wanted = fingerprint(cfg)
        record = None if overwrite else self.load()
        if record is None and not overwrite and self.path.exists() and any(p.name != LOCK for p in self.path.iterdir()):
            raise FerLabError(
                f"{self.path} holds tuner state but no {RECORD}, so fer_lab cannot tell what it "
                "searched; rerun with tuner.overwrite=true or choose another tuner.study"
            )
        if record is not None and record.fingerprint != wanted and self.started():
            raise FerLabError(
                f"study {self.name} in {self.path} was started with a different "
                f"{_describe_diff(record.fingerprint, wanted)}; to keep both, pick a new study "
                f"name (tuner.study=<name>), or discard the old one with tuner.overwrite=true"
            )
        if record is None or record.fingerprint != wanted:
            self.wipe()
            record = StudyRecord(self.name, wanted)
            self.save(record)
        return record


def _describe_diff(old: dict, new: dict) -> str:
    a, b = _flat(old), _flat(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
    shown = ", ".join(f"{k} ({a.get(k, '<absent>')} -> {b.get(k, '<absent>')})" for k in keys[:6])
    more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
    return f"configuration: {shown}{more}"


def _flat(d, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix[:-1]: json.dumps(d)}
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out
