"""`python -m fer_lab.predict FILES_OR_FOLDERS... [--format table|csv|json]`: emotions of the faces in images.

Folders are searched recursively for images. Every face found is reported with its box; with
`--uncertain-below P`, a face whose top probability is below P is labelled uncertain (its probabilities still shown).
Flags (argparse), not Hydra overrides: it takes file paths and a few options and composes no config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fer_lab.config import TTA_MODES
from fer_lab.data.folders import IMAGE_SUFFIXES
from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.catalog import default_model_uri, describe_model
from fer_lab.inference.detectors import DETECTORS, make_detector
from fer_lab.inference.files import FORMATS, collect_files, predict_files, render
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.tracking.model_io import registry_uri

EXIT_PARTIAL = 1
EXIT_CODES = (
    "exit status: 0 every file was predicted; 1 some files failed (unreadable, unsupported or "
    "no face: each is named on stderr and in the output, the others are still predicted); "
    "2 nothing could be predicted (no model, no image files, or every file failed)"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fer_lab.predict",
        epilog=EXIT_CODES,
        description="Emotions of the faces in images (folders: recursively).",
    )
    parser.add_argument("paths", nargs="+", help="image files and/or folders")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--output", help="write the results to this file instead of stdout")
    parser.add_argument(
        "--model",
        help=f"model URI (models:/name@alias, models:/name/3, runs:/<id>/model, "
        f"file.keras, bundled); default {registry_uri()} when registered, else bundled "
        "(the reference model shipped with fer_lab)",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlflow.db)"
    )
    parser.add_argument(
        "--detector",
        choices=DETECTORS.names(),
        default="mtcnn",
        help="mtcnn (default: the most faces, fewest false ones on photos); haar and auto (YuNet if "
        "--yunet-model exists, else Haar) are faster; skip: images are face crops",
    )
    parser.add_argument("--yunet-model", help="path to YuNet's ONNX file (face_detection_yunet_2023mar.onnx)")
    parser.add_argument(
        "--tta",
        default="crops",
        choices=TTA_MODES,
        help="test-time augmentation, as in evaluate: crops (ten crops, the default), flip (the face "
        "and its mirror) or none; the views' probabilities are averaged",
    )
    parser.add_argument(
        "--uncertain-below",
        type=_probability,
        default=0.0,
        metavar="P",
        help="label a face 'uncertain' when its top probability is below P, in [0, 1] (default 0: never); "
        "experiments/RESULTS.md, Calibration, gives the accuracy and share of faces answered at each P",
    )
    return parser.parse_args(argv)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1]")
    return value


@report_user_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files, results = collect_files(args.paths)
    if not files:
        for r in results:
            print(f"fer_lab: {r.file}: {r.error}", file=sys.stderr)
        raise FerLabError(f"no image files in {' '.join(args.paths)} (looked for {' '.join(IMAGE_SUFFIXES)})")
    uri = args.model or default_model_uri(args.tracking_uri)
    print(f"fer_lab: model {describe_model(uri, args.tracking_uri).describe()}", file=sys.stderr)
    recognizer = EmotionRecognizer.from_uri(
        uri,
        tracking_uri=args.tracking_uri,
        detector=make_detector(args.detector, yunet_model=args.yunet_model),
        tta=args.tta,
    )
    results = predict_files(recognizer, files, args.uncertain_below) + results
    text = render(results, args.format, recognizer.class_names)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n")
        except OSError as err:
            raise FerLabError(f"cannot write --output {args.output}: {err.strerror or err}") from None
    else:
        print(text)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"fer_lab: {r.file}: {r.error}", file=sys.stderr)
    if len(failed) == len(results):
        raise FerLabError(f"no file could be predicted ({len(failed)} failed, see above)")
    return EXIT_PARTIAL if failed else 0


if __name__ == "__main__":
    sys.exit(main())
