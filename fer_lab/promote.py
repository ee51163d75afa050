"""`python -m fer_lab.promote --metric val_macro_f1`: alias the best registered version `champion`.

`--version N` aliases that version instead (e.g. when versions were validated on different data).
Flags (argparse), not Hydra overrides: it acts on the model registry and composes no config.
"""

import argparse

from fer_lab.config import REGISTERED_MODEL_NAME
from fer_lab.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.promote", description=__doc__)
    parser.add_argument("--metric", default="val_accuracy", help="validation metric to rank versions by")
    parser.add_argument("--name", default=REGISTERED_MODEL_NAME, help="registered model name")
    parser.add_argument("--version", default=None, help="alias this version instead of ranking by --metric")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite mlflow.db")
    args = parser.parse_args(argv)

    from mlflow import MlflowClient

    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.alias_lock import alias_lock
    from fer_lab.tracking.registry import CHAMPION, best_version, require_version

    uri = configure_tracking(args.tracking_uri)
    client = MlflowClient()
    with alias_lock(client, args.name):
        if args.version:
            version, why = require_version(client, args.name, args.version), "chosen by --version"
        else:
            version, value = best_version(client, args.name, args.metric)
            why = f"{args.metric}={value:.4f}"
        client.set_registered_model_alias(args.name, CHAMPION, version)
    print(f"fer_lab: {args.name} version {version} ({why}) is now @{CHAMPION} in {uri}")


if __name__ == "__main__":
    main()
