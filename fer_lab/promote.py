"""`python -m fer_lab.promote --metric val_macro_f1`: alias the best registered version `champion`."""

import argparse

from fer_lab.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.promote", description=__doc__)
    parser.add_argument("--metric", default="val_accuracy", help="validation metric to rank versions by")
    parser.add_argument("--name", default="fer_lab", help="registered model name")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite mlflow.db")
    args = parser.parse_args(argv)

    from mlflow import MlflowClient

    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.registry import CHAMPION, best_version

    uri = configure_tracking(args.tracking_uri)
    client = MlflowClient()
    version, value = best_version(client, args.name, args.metric)
    client.set_registered_model_alias(args.name, CHAMPION, version)
    print(f"fer_lab: {args.name} version {version} ({args.metric}={value:.4f}) is now @{CHAMPION} in {uri}")


if __name__ == "__main__":
    main()
