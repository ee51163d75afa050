"""Client side of `make serve` (mlflow's scoring server): read a model's metadata, build the request body
from face crops, post it to /invocations and label the answer (with the model's temperature for one pass)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

import numpy as np

from fer_lab.errors import FerLabError
from fer_lab.inference.bundled import BUNDLED_URI, bundled_model
from fer_lab.inference.faces import Box
from fer_lab.tracking.model_io import METADATA_KEY, ModelMetadata, apply_temperature

DEFAULT_URL = "http://127.0.0.1:5001"
ENDPOINT = "/invocations"
SERVED_TTA = "none"
"""The TTA mode of the served model's answers: one pass per face."""


def load_metadata(model_uri: str, tracking_uri: str | None = None) -> ModelMetadata:
    """The fer_lab metadata logged with a model (or the bundled model's), without loading the model itself."""
    import mlflow

    if model_uri == BUNDLED_URI:
        return bundled_model().metadata

    from fer_lab.tracking.uri import configure_tracking

    configure_tracking(tracking_uri)
    try:
        meta = (mlflow.models.get_model_info(model_uri).metadata or {}).get(METADATA_KEY)
    except Exception as err:  # mlflow raises several types for a missing model or alias
        reason = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
        raise FerLabError(
            f"cannot read model {model_uri}: {reason}. Train and register one with "
            "`python -m fer_lab.train`, or name another with --model"
        ) from None
    if meta is None:
        raise FerLabError(
            f"model {model_uri} was not logged by fer_lab (no '{METADATA_KEY}' metadata); "
            "name a model trained with `python -m fer_lab.train` with --model"
        )
    return ModelMetadata.from_dict(meta)


def payload(faces: np.ndarray) -> dict:
    """The request body for mlflow's /invocations: raw-pixel faces as a nested list."""
    return {"inputs": np.asarray(faces, dtype="float32").tolist()}


def invocations_url(url: str) -> str:
    """The scoring address of a server given by its base URL or by its full /invocations address."""
    url = url.rstrip("/")
    return url if url.endswith(ENDPOINT) else f"{url}{ENDPOINT}"


def post(url: str, body: dict) -> np.ndarray:
    """The server's probabilities (N, K) for the request `body`; `url` is the base or /invocations address."""
    address = invocations_url(url)
    request = urllib.request.Request(
        address, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return np.asarray(json.loads(response.read())["predictions"], dtype="float32")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise FerLabError(
                f"{address} answered 404 Not Found: no model server scores requests there. "
                f"Start one with `make serve` and pass its address, e.g. --url {DEFAULT_URL} "
                f"(or {DEFAULT_URL}{ENDPOINT})"
            ) from None
        raise FerLabError(
            f"the model server at {url} refused the request ({err.code}): {err.read().decode(errors='replace')[:300]}"
        ) from None
    except (urllib.error.URLError, OSError) as err:
        raise FerLabError(
            f"no model server at {url} ({getattr(err, 'reason', err)}); start it with `make serve`"
        ) from None


def labelled_faces(meta: ModelMetadata, boxes: Sequence[Box], probs: np.ndarray) -> list[dict]:
    """Box, label, confidence and every class probability of each face, as JSON-ready dicts; `probs` are the served
    model's (one pass), scaled here by its temperature for SERVED_TTA as EmotionRecognizer scales them."""
    probs = apply_temperature(probs, meta.temperature(SERVED_TTA))
    return [
        {
            "box": {"x": b.x, "y": b.y, "w": b.w, "h": b.h},
            "label": meta.class_names[int(np.argmax(p))],
            "confidence": round(float(np.max(p)), 4),
            "probabilities": {c: round(float(v), 4) for c, v in zip(meta.class_names, p, strict=True)},
        }
        for b, p in zip(boxes, probs, strict=True)
    ]
