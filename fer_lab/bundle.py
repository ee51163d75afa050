"""`python -m fer_lab.bundle`: the reference model shipped in the package.

    python -m fer_lab.bundle register              # log it into the local registry (alias `bundled`)
    python -m fer_lab.bundle write --model models:/fer_lab/3 --command "python -m fer_lab.train ..."

`register` lets users compare, promote and serve it like their own models: its run carries the validation
metrics and validation-data fingerprint of the run that trained it, so promotion compares it fairly.
`write` replaces the bundled model by a logged one and renders its model card from that run.
Flags (argparse), not Hydra overrides: it acts on model files and the registry and composes no config.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fer_lab.config import REGISTERED_MODEL_NAME
from fer_lab.errors import report_user_errors
from fer_lab.inference.bundled import BUNDLED_ALIAS, register_bundled, write_from_run


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.bundle", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    reg = sub.add_parser("register", help="log the bundled model into the registry")
    reg.add_argument("--name", default=REGISTERED_MODEL_NAME, help="registered model name")
    reg.add_argument("--tracking-uri")
    write = sub.add_parser("write", help="make a logged model the bundled one, with its model card")
    write.add_argument("--model", required=True, help="models:/name/3, models:/name@alias or runs:/<id>/model")
    write.add_argument("--command", required=True, help="the command that trained it, for the card")
    write.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    if args.action == "register":
        version = register_bundled(args.name, args.tracking_uri)
        print(
            f"fer_lab: bundled model registered as {args.name} version {version} (@{BUNDLED_ALIAS}); make it "
            f"the champion with `python -m fer_lab.promote --name {args.name} --version {version}`"
        )
    else:
        bundled = write_from_run(args.model, args.command, args.tracking_uri)
        print(
            f"fer_lab: wrote {bundled.folder} ({bundled.card['size_mb']:.1f} MB; test accuracy "
            f"{bundled.card['test_accuracy']:.4f} at tta={bundled.card['tta']})"
        )


if __name__ == "__main__":
    main()
