"""`python -m fer_lab.export format=savedmodel|tflite|onnx`: export a logged model and check its predictions.

The export takes the same raw 0..255 pixels (N, S, S, 1) as the Keras model; the class names, image
size and face margin it needs are written to <output>.json beside it.
"""

from __future__ import annotations

import math
from pathlib import Path

import hydra
from omegaconf import DictConfig

import fer_lab.config  # noqa: F401  (the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.config import require
from fer_lab.errors import report_user_errors
from fer_lab.inference.catalog import default_model_uri
from fer_lab.inference.export import FORMATS, default_output, export_checked
from fer_lab.inference.recognizer import EmotionRecognizer

MAX_CHECK_IMAGES = 10_000


def run(cfg: DictConfig) -> tuple[Path, float]:
    """Export the configured model and check it; returns (export path, max probability difference)."""
    fmt = str(cfg.format)
    require(fmt in FORMATS, "format", fmt, " | ".join(FORMATS))
    check_images, tolerance = cfg.check_images, cfg.tolerance
    require(
        isinstance(check_images, int) and not isinstance(check_images, bool) and 1 <= check_images <= MAX_CHECK_IMAGES,
        "check_images",
        check_images,
        f"a whole number from 1 to {MAX_CHECK_IMAGES}",
    )
    require(
        isinstance(tolerance, int | float) and not isinstance(tolerance, bool) and 0 <= tolerance < math.inf,
        "tolerance",
        tolerance,
        "a number >= 0 (the largest accepted probability difference)",
    )
    uri = str(cfg.model_uri or default_model_uri(cfg.mlflow.get("tracking_uri")))
    output = Path(cfg.output) if cfg.get("output") else default_output(uri, fmt)
    require(
        fmt == "savedmodel" or not output.is_dir(),
        "output",
        cfg.output,
        f"a file path, not the existing folder {output}",
    )
    suffix = FORMATS[fmt]
    require(
        fmt == "savedmodel" or output.suffix == suffix,
        "output",
        cfg.output,
        f"a file path ending in {suffix} for format={fmt} (or null for exports/<model>{suffix})",
    )
    recognizer = EmotionRecognizer.from_uri(uri, tracking_uri=cfg.mlflow.get("tracking_uri"))
    diff = export_checked(recognizer, uri, fmt, output, check_images, float(tolerance))
    return output, diff


@checked_overrides("export")
@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@report_user_errors
def main(cfg: DictConfig) -> None:
    output, diff = run(cfg)
    print(
        f"fer_lab: exported {cfg.format} to {output} (metadata: {output}.json); check on "
        f"{cfg.check_images} images: max probability difference {diff:.1e} <= {cfg.tolerance:g}"
    )


if __name__ == "__main__":
    main()
