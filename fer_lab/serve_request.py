"""`python -m fer_lab.serve_request photo.jpg`: score the faces of an image with the `make serve` server.

The server takes raw face crops: {"inputs": [N][S][S][1] pixel values 0..255} on POST /invocations and
answers {"predictions": [N][7] probabilities}. This helper finds the faces, crops them with the model's
logged image size and face margin, posts them and prints labels, probabilities and boxes as JSON.
--payload only prints the request body, for curl:

    python -m fer_lab.serve_request face.jpg --payload > payload.json
    curl -s http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d @payload.json
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Sequence

import cv2
import numpy as np

from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.faces import DETECTORS, crop_faces, make_detector, to_gray
from fer_lab.tracking.model_io import METADATA_KEY, ModelMetadata, registry_uri

DEFAULT_URL = "http://127.0.0.1:5001"


def load_metadata(model_uri: str, tracking_uri: str | None = None) -> ModelMetadata:
    """The fer_lab metadata logged with a model, without loading the model itself."""
    import mlflow

    from fer_lab.tracking.uri import configure_tracking

    configure_tracking(tracking_uri)
    try:
        meta = (mlflow.models.get_model_info(model_uri).metadata or {}).get(METADATA_KEY)
    except Exception as err:  # mlflow raises several types for a missing model or alias
        reason = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
        raise FerLabError(f"cannot read model {model_uri}: {reason}. Train and register one with "
                          "`python -m fer_lab.train`, or name another with --model") from None
    if meta is None:
        raise FerLabError(f"model {model_uri} was not logged by fer_lab (no '{METADATA_KEY}' metadata); "
                          "name a model trained with `python -m fer_lab.train` with --model")
    return ModelMetadata.from_dict(meta)


def payload(faces: np.ndarray) -> dict:
    """The request body for mlflow's /invocations: raw-pixel faces as a nested list."""
    return {"inputs": np.asarray(faces, dtype="float32").tolist()}


def post(url: str, body: dict) -> np.ndarray:
    request = urllib.request.Request(f"{url.rstrip('/')}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return np.asarray(json.loads(response.read())["predictions"], dtype="float32")
    except urllib.error.HTTPError as err:
        raise FerLabError(f"the model server at {url} refused the request ({err.code}): "
                          f"{err.read().decode(errors='replace')[:300]}") from None
    except (urllib.error.URLError, OSError) as err:
        raise FerLabError(f"no model server at {url} ({getattr(err, 'reason', err)}); start it with "
                          "`make serve`") from None


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.serve_request",
                                     description="Score the faces of an image with the `make serve` server.")
    parser.add_argument("image")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--payload", action="store_true", help="print the request body only (for curl)")
    parser.add_argument("--model", default=registry_uri("fer_lab"),
                        help="the served model, for its image size, face margin and class names")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--detector", choices=DETECTORS, default="auto")
    parser.add_argument("--yunet-model")
    args = parser.parse_args(argv)
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise FerLabError(f"{args.image}: cannot read image (missing, corrupt or unsupported format)")
    meta = load_metadata(args.model, args.tracking_uri)
    gray = to_gray(image)
    boxes = make_detector(args.detector, args.yunet_model)(image, gray)
    if not boxes:
        raise FerLabError(f"{args.image}: no face found (if it is already a face crop, use --detector skip)")
    body = payload(crop_faces(gray, boxes, meta.image_size, meta.face_margin))
    if args.payload:
        json.dump(body, sys.stdout)
        return
    faces = [{"box": {"x": b.x, "y": b.y, "w": b.w, "h": b.h},
              "label": meta.class_names[int(np.argmax(p))], "confidence": round(float(np.max(p)), 4),
              "probabilities": {c: round(float(v), 4) for c, v in zip(meta.class_names, p)}}
             for b, p in zip(boxes, post(args.url, body))]
    print(json.dumps({"file": args.image, "faces": faces}, indent=2))


if __name__ == "__main__":
    main()
