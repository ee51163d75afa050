"""`python -m fer_lab.serve_request photo.jpg`: score the faces of an image with the `make serve` server.

The server takes raw face crops: {"inputs": [N][S][S][1] pixel values 0..255} on POST /invocations and
answers {"predictions": [N][7] probabilities}. This helper finds the faces, crops them with the model's
logged image size and face margin, posts them and prints labels, probabilities and boxes as JSON.
--url takes the server's base address or its full /invocations address. --payload only prints the
request body, for curl:

    python -m fer_lab.serve_request face.jpg --payload > payload.json
    curl -s http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d @payload.json

Flags (argparse), not Hydra overrides: it takes file paths and a few options and composes no config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import cv2

from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.catalog import default_model_uri
from fer_lab.inference.detectors import DETECTORS, make_detector
from fer_lab.inference.faces import crop_faces, to_gray
from fer_lab.inference.serving import DEFAULT_URL, labelled_faces, load_metadata, payload, post
from fer_lab.tracking.model_io import registry_uri


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fer_lab.serve_request", description="Score the faces of an image with the `make serve` server."
    )
    parser.add_argument("image")
    parser.add_argument("--url", default=DEFAULT_URL, help="the server's base or /invocations address")
    parser.add_argument("--payload", action="store_true", help="print the request body only (for curl)")
    parser.add_argument(
        "--model",
        help="the served model, for its image size, face margin and class names "
        f"(default {registry_uri()} when registered, else bundled)",
    )
    parser.add_argument("--tracking-uri")
    parser.add_argument(
        "--detector",
        choices=DETECTORS.names(),
        default="mtcnn",
        help="face detector (see python -m fer_lab.predict --help); skip: the image is a face crop",
    )
    parser.add_argument("--yunet-model")
    args = parser.parse_args(argv)
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise FerLabError(f"{args.image}: cannot read image (missing, corrupt or unsupported format)")
    meta = load_metadata(args.model or default_model_uri(args.tracking_uri), args.tracking_uri)
    gray = to_gray(image)
    boxes = make_detector(args.detector, yunet_model=args.yunet_model)(image, gray)
    if not boxes:
        raise FerLabError(f"{args.image}: no face found (if it is already a face crop, use --detector skip)")
    body = payload(crop_faces(gray, boxes, meta.image_size, meta.face_margin))
    if args.payload:
        json.dump(body, sys.stdout)
        return
    faces = labelled_faces(meta, boxes, post(args.url, body))
    print(json.dumps({"file": args.image, "faces": faces}, indent=2))


if __name__ == "__main__":
    main()
