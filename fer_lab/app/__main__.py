"""`python -m fer_lab.app [--port 7860] [--model URI] [--open]`: the browser app on http://127.0.0.1:7860.

The page sends camera frames over a WebSocket and draws the faces, labels and probabilities the server
finds; it also takes image and video uploads and switches between the registry's models.
Browsers give pages the camera only on localhost or https: serve other addresses with --certfile/--keyfile.
"""

from __future__ import annotations

import argparse
import ipaddress
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from fer_lab.config import TTA_MODES
from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.catalog import default_model_uri
from fer_lab.inference.detectors import DETECTORS
from fer_lab.listening import check_port
from fer_lab.tracking.model_io import registry_uri

DEFAULT_PORT = 7860
SELF_SIGNED = "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 -subj /CN=localhost"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument(
        "--allowed-hosts",
        default="",
        help="comma-separated host names the app answers to besides localhost, 127.0.0.1 and --host "
        "(the names in browsers' address bars when serving beyond this machine)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--model",
        help=f"model URI (models:/name@alias, models:/name/3, runs:/<id>/model, "
        f"file.keras, bundled); default {registry_uri()} when registered, else bundled",
    )
    parser.add_argument(
        "--detector",
        choices=DETECTORS.names(),
        default="auto",
        help="face detector: auto (YuNet if its model file exists, else Haar), haar, mtcnn, ...",
    )
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        default="crops",
        help="test-time augmentation the page starts with (it can change it per session)",
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root>/mlflow.db)"
    )
    parser.add_argument(
        "--certfile",
        help="TLS certificate (PEM): serve https, which browsers need to give the "
        "camera to a page that is not on localhost",
    )
    parser.add_argument("--keyfile", help="TLS private key (PEM) of --certfile")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    return parser.parse_args(argv)


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    check_tls(args.certfile, args.keyfile)
    check_port(args.host, args.port)
    from fer_lab.app.server import create_app, listen, server_config
    from fer_lab.app.serving import ServingState

    state = ServingState(args.model or default_model_uri(args.tracking_uri), args.tracking_uri, args.detector, args.tta)
    url = f"{'https' if args.certfile else 'http'}://{'localhost' if _loopback(args.host) else args.host}:{args.port}"
    print(f"fer_lab: model {state.serving.describe()}\nfer_lab: open {url} (Ctrl+C stops)", flush=True)
    if not (args.certfile or _loopback(args.host)):
        print(
            "fer_lab: warning: browsers give the camera only to https pages or localhost; pass --certfile and "
            "--keyfile, or forward the port over SSH",
            flush=True,
        )
    if args.host in ("0.0.0.0", "::") and not args.allowed_hosts:
        print(
            f"fer_lab: note: on {args.host} the app answers only to localhost and 127.0.0.1; pass --allowed-hosts "
            "with the name or address other machines open it by",
            flush=True,
        )
    app = create_app(state, allowed_hosts(args.host, args.allowed_hosts))
    config = server_config(app, args.host, args.port, state.limits.frame, args.certfile, args.keyfile)
    try:
        listen(config, on_ready=(lambda: webbrowser.open(url)) if args.open else None)
    except KeyboardInterrupt:  # uvicorn shuts down cleanly, then passes Ctrl+C on
        print("fer_lab: stopped")


def allowed_hosts(host: str, extra: str) -> list[str]:
    """The Host header values the app answers: this machine's names, the address it listens on (unless it is a
    wildcard such as 0.0.0.0) and the names given."""
    from fer_lab.app.server import LOCAL_HOSTS

    names = [*LOCAL_HOSTS, *(n.strip().lower() for n in extra.split(",") if n.strip())]
    if host not in ("0.0.0.0", "::", ""):
        names.append(host.lower())
    return list(dict.fromkeys(names))


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    if bool(certfile) != bool(keyfile):
        raise FerLabError("pass both --certfile and --keyfile (or neither); a self-signed pair: " + SELF_SIGNED)
    for flag, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if path and not Path(path).is_file():
            raise FerLabError(f"{flag} {path} not found; make a self-signed pair with `{SELF_SIGNED}`")


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    main()
