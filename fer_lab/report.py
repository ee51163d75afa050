"""`python -m fer_lab.report model_uri=...`: one model scored on several datasets (conf/report.yaml `sources`), one
markdown table row per source: images, classes scored, accuracy and macro-F1 with 95% bootstrap intervals and
per-class recall.

A source with other class names (CK+) is scored on the classes it shares with the model, saying what is left out;
its intervals resample whole persons when its data config names them (data.group_pattern). A source whose files
are missing is skipped with a note, unless `only` or a command-line override names it. The table is printed,
written to `output` and logged to MLflow (experiment `report`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
import numpy as np
from omegaconf import DictConfig

from fer_lab.command_line import checked_overrides
from fer_lab.config import TTA_MODES, require, resolved_copy
from fer_lab.data import Split  # the package registers the data sources' config schemas, which every source composes
from fer_lab.errors import FerLabError, print_note, report_user_errors

if TYPE_CHECKING:
    from fer_lab.evaluation.metrics import SplitReport

SPLITS = ("test", "all")


@dataclass(frozen=True)
class Row:
    """One source scored: its name, the split, how many of its images were scored, the report and what was left
    out."""

    source: str
    split: str
    images: int  # images of the split, scored or not
    report: SplitReport
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """The rows of one model, with the model's classes (the recall columns) and the sources skipped."""

    model_uri: str
    tta: str
    class_names: tuple[str, ...]
    rows: tuple[Row, ...]
    skipped: tuple[str, ...]

    def markdown(self) -> str:
        """The table, then a note per row (where its images come from, what was not scored) and per skipped
        source."""
        from fer_lab.evaluation.intervals import LEVEL

        ci = f"[{LEVEL:.0%} CI]"
        header = ["source", "split", "images", "classes", f"accuracy {ci}", f"macro-F1 {ci}", *self.class_names]
        lines = [header, ["---"] * len(header), *(self._cells(row) for row in self.rows)]
        table = "\n".join(f"| {' | '.join(cells)} |" for cells in lines)
        notes = [f"- {row.source}: {'; '.join((row.report.origin, *row.notes))}" for row in self.rows]
        notes += [f"- {note}" for note in self.skipped]
        return (
            f"Model {self.model_uri}, tta={self.tta}: accuracy and macro-F1 with {LEVEL:.0%} bootstrap intervals "
            "(resampling persons where a source names them), then recall per class ('-': the source has no "
            f"image of it)\n\n{table}\n\n" + "\n".join(notes) + "\n"
        )

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics: <source>_accuracy, <source>_macro_f1, their _ci_low/_ci_high, <source>_images,
        <source>_recall_<class>."""
        flat: dict[str, float] = {}
        for row in self.rows:
            report = row.report
            for metric, interval in report.intervals.items():
                flat[f"{row.source}_{metric}"] = getattr(report, metric)
                flat[f"{row.source}_{metric}_ci_low"], flat[f"{row.source}_{metric}_ci_high"] = (
                    interval.low,
                    interval.high,
                )
            flat[f"{row.source}_images"] = len(report.pred)
            flat.update({f"{row.source}_recall_{c}": stats["recall"] for c, stats in report.per_class.items()})
        return flat

    def _cells(self, row: Row) -> list[str]:
        report = row.report
        missing = [c for c in self.class_names if c not in report.per_class]
        scored = len(report.pred)
        return [
            row.source,
            row.split,
            str(scored) if scored == row.images else f"{scored} of {row.images}",
            f"{len(report.per_class)}" + (f" (no {', '.join(missing)})" if missing else ""),
            *(f"{getattr(report, m):.4f} {report.intervals[m]}" for m in ("accuracy", "macro_f1")),
            *(f"{report.per_class[c]['recall']:.3f}" if c in report.per_class else "-" for c in self.class_names),
        ]


@checked_overrides("report")
@hydra.main(version_base="1.3", config_path="../conf", config_name="report")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import mlflow

    from fer_lab.inference.catalog import default_model_uri
    from fer_lab.inference.loading import load_model
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.tta in TTA_MODES, "tta", cfg.tta, " | ".join(TTA_MODES))
    sources, skipped = _sources_to_score(cfg, _named_on_command_line())
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    uri = str(cfg.model_uri or default_model_uri(tracking_uri))
    model, meta = load_model(uri, tracking_uri)
    rows = tuple(_score_source(name, source, model, meta, uri, cfg) for name, source in sources.items())
    report = Report(uri, str(cfg.tta), meta.class_names, rows, tuple(skipped))
    markdown = report.markdown()
    output = Path(cfg.output or Path(cfg.paths.reports) / f"report-{_slug(uri)}.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown)
    with mlflow.start_run(
        experiment_id=ensure_experiment(str(cfg.mlflow.experiment), tracking_uri), run_name="report"
    ) as run:
        mlflow.log_params(
            {
                "model": uri,
                "tta": cfg.tta,
                "crop_fraction": cfg.crop_fraction,
                "seed": cfg.seed,
                "sources": ",".join(sources),
            }
        )
        mlflow.log_metrics(report.metrics())
        mlflow.log_text(markdown, f"report/{output.name}")
    print(f"\n{markdown}\nfer_lab: wrote {output}\nfer_lab: logged as MLflow run {run.info.run_id} in {tracking_uri}")


def _named_on_command_line() -> set[str]:
    """The sources whose keys the command line sets (`sources.<name>.…=`, `+data@sources.<name>.data=`)."""
    from hydra.core.hydra_config import HydraConfig

    found = (re.match(r"^[+~]*(?:data@)?sources\.([^.=@]+)", o) for o in HydraConfig.get().overrides.task)
    return {m.group(1) for m in found if m}


def _sources_to_score(cfg: DictConfig, named: set[str]) -> tuple[dict[str, DictConfig], list[str]]:
    """The sources to score, by name, and a note per source skipped for missing files. A source `only` lists or
    the command line names must exist; an unknown name, an unknown split or nothing to score is an error."""
    known = list(cfg.sources)
    only = [str(name) for name in cfg.only] if cfg.only is not None else None
    if unknown := [name for name in only or () if name not in known]:
        raise FerLabError(
            f"only={only}: no source named {', '.join(unknown)}; the sources are {', '.join(known)} "
            "(conf/report.yaml), or add one: +data@sources.<name>.data=class_folders sources.<name>.data.path=..."
        )
    sources, skipped = {}, []
    for name in only if only is not None else known:
        source = cfg.sources[name]
        split = source.get("split", "all")
        require(split in SPLITS, f"sources.{name}.split", split, " | ".join(SPLITS))
        missing = [f"{key}={value}" for key, value in _data_files(source.data).items() if not value.exists()]
        if not missing:
            sources[name] = source
        elif name in named or only is not None:
            raise FerLabError(
                f"source {name}: {' and '.join(missing)} does not exist; point sources.{name}.data at its files "
                "(or data_root at the folder holding them)"
            )
        else:
            skipped.append(f"{name}: skipped, no {' or '.join(missing)} (set data_root or sources.{name}.data.*)")
    for note in skipped:
        print_note(note)
    if only == []:
        raise FerLabError(f"only=[] names no source to score: name some of {', '.join(known)}, or only=null for all")
    if not sources:
        raise FerLabError(
            "no source to score: their files are missing. Pass data_root=/abs/folder holding fer2013.csv.gz, "
            "fer2013new.csv and ckplus48/, or a source's own path: sources.<name>.data.path=..."
        )
    return sources, skipped


def _data_files(data: DictConfig) -> dict[str, Path]:
    """The files or folders a data config reads (its keys ending in `path`), relative ones against the current
    directory."""
    return {
        f"data.{key}": Path.cwd() / Path(str(value)).expanduser()
        for key, value in data.items()
        if isinstance(key, str) and key.endswith("path") and value
    }


def _score_source(name: str, source: DictConfig, model, meta, uri: str, cfg: DictConfig) -> Row:
    """Load the source's split and score the model on the classes both have."""
    from fer_lab.evaluation.label_sets import SharedClasses
    from fer_lab.evaluation.tta import predict_with_tta

    split, class_names, notes = _load_split(name, source, cfg.seed)
    for note in notes:
        print_note(f"{name}: {note}")
    if split.x.shape[1] != meta.image_size:
        raise FerLabError(
            f"source {name}: {uri} expects {meta.image_size}px images, the data has {split.x.shape[1]}px; set "
            f"sources.{name}.data.image_size={meta.image_size}"
        )
    try:
        SharedClasses.of(meta.class_names, class_names)
    except FerLabError as err:
        raise FerLabError(f"source {name}: {err} (sources.{name}.data.class_map)") from None
    if split.name == "test" and class_names == meta.class_names:
        _check_test_split(split, uri, cfg)
    print(f"fer_lab: {name}: predicting {len(split)} images (split {split.name}, tta={cfg.tta})")
    probs = predict_with_tta(model, split.x, cfg.tta, crop_fraction=cfg.crop_fraction)
    report, scoring_notes = score_source(probs, split, meta.class_names, class_names, str(cfg.tta))
    return Row(name, split.name, len(split), report, tuple(scoring_notes))


def _load_split(name: str, source: DictConfig, seed: int) -> tuple[Split, tuple[str, ...], tuple[str, ...]]:
    """(the split, the data's class names, the loading notes) of a source."""
    from fer_lab.data import load_dataset, load_images

    split, data_cfg = source.get("split", "all"), resolved_copy(source.data)  # detached: ${data_root} resolved
    if split == "all":
        raw = load_images(data_cfg, seed)
        return Split("all", raw.x, raw.y, f"all images of {raw.source}", raw.groups), raw.class_names, raw.notes
    data = load_dataset(data_cfg, seed)
    if data.test is None or not len(data.test):
        raise FerLabError(f"source {name}: {data.source} has no test split; set sources.{name}.split=all")
    test = data.test
    origin = f"{test.origin} of {data.source}"
    return Split("test", test.x, test.y, origin, test.groups), data.class_names, data.notes


def _check_test_split(split: Split, uri: str, cfg: DictConfig) -> None:
    """Refuse a test split that holds the rows the model was validated on (fer_lab.evaluation.held_out)."""
    from fer_lab.evaluation.held_out import model_training_run, require_honest_split

    print_note(require_honest_split(split, uri, model_training_run(uri), cfg))


def score_source(
    probs: np.ndarray, split: Split, model_classes: tuple[str, ...], data_classes: tuple[str, ...], tta: str
) -> tuple[SplitReport, list[str]]:
    """The report of model probabilities `probs` on `split` over the classes model and data share (notes say what
    was left out); with groups on the split, its intervals resample whole groups."""
    from fer_lab.evaluation.label_sets import score_shared_classes

    return score_shared_classes(
        probs,
        split.labels,
        model_classes,
        data_classes,
        split=split.name,
        origin=split.origin,
        tta=tta,
        groups=split.groups,
    )


def _slug(uri: str) -> str:
    """A file-name part for a model URI: models:/fer_lab@champion -> models_fer_lab_champion."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", uri).strip("_")


if __name__ == "__main__":
    main()
