"""`python -m fer_lab.serve` (make serve): REST scoring of the champion (else the bundled model), `mlflow models serve`.

POST /invocations takes {"inputs": [N][S][S][1] raw face pixels 0..255} and answers {"predictions":
[N][7] probabilities}; `python -m fer_lab.serve_request photo.jpg` finds, crops and sends the faces of
a photo. The model is checked first, so a missing champion is one clear message.
Flags (argparse), not Hydra overrides: it takes a model and a few options and composes no config.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fer_lab.errors import report_user_errors
from fer_lab.inference.bundled import BUNDLED_URI, bundled_mlflow_model
from fer_lab.inference.catalog import default_model_uri
from fer_lab.inference.serving import DEFAULT_URL, ENDPOINT, load_metadata
from fer_lab.paths import project_root
from fer_lab.tracking.model_io import registry_uri
from fer_lab.tracking.uri import resolve_tracking_uri

DEFAULT_PORT = 5001


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.serve", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        help=f"models:/name@alias, models:/name/3, ..., bundled; default {registry_uri()} "
        "when registered, else bundled (the reference model shipped with fer_lab)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    args.model = args.model or default_model_uri(args.tracking_uri)
    meta = load_metadata(args.model, args.tracking_uri)
    served = str(bundled_mlflow_model(project_root() / ".cache")) if args.model == BUNDLED_URI else args.model
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": resolve_tracking_uri(args.tracking_uri),
        # the scoring server starts `uvicorn` from PATH: the one installed beside this Python
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    url = f"http://{args.host}:{args.port}"
    example = "" if url == DEFAULT_URL else f" --url {url}"
    print(
        f"fer_lab: serving {args.model} ({meta.model_name}: {meta.image_size}x{meta.image_size} grayscale "
        f"faces, classes {', '.join(meta.class_names)}) on {url}{ENDPOINT}\n"
        f"fer_lab: try `python -m fer_lab.serve_request photo.jpg{example}`",
        flush=True,
    )
    os.execvpe(
        sys.executable,
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            served,
            "--env-manager",
            "local",
            "-h",
            args.host,
            "-p",
            str(args.port),
        ],
        env,
    )


if __name__ == "__main__":
    main()
