"""`python -m fer_lab.audit data.path=...`: report class balance, exact duplicates (within and across
splits, with label conflicts), near-blank images and what drop_cross_split_duplicates would remove.
`audit.json_out=<path>` also writes the report as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig

import fer_lab.config  # noqa: F401  (the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.data import load_images  # the data sources' config schemas, the only group audit composes
from fer_lab.data.audit import audit_images, format_report
from fer_lab.errors import FerLabError, report_user_errors


@checked_overrides("audit")
@hydra.main(version_base="1.3", config_path="../conf", config_name="audit")
@report_user_errors
def main(cfg: DictConfig) -> None:
    """Load every image of cfg.data, audit it, print the report (and write JSON when asked)."""
    raw = load_images(cfg.data, seed=cfg.seed)
    report = audit_images(
        raw,
        cfg.data,
        cfg.seed,
        blank_std=float(cfg.audit.blank_std),
        blank_range=int(cfg.audit.blank_range),
        show=int(cfg.audit.show),
    )
    print(format_report(report), flush=True)
    if cfg.audit.json_out:
        out = Path(str(cfg.audit.json_out)).expanduser().resolve()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as err:
            raise FerLabError(
                f"cannot write audit.json_out={cfg.audit.json_out} ({err}); pass a writable path"
            ) from None
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
