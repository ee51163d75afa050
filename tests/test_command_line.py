"""Overrides checked before Hydra runs a command: a mistyped key (with `+` or not) or group option is refused with
the nearest valid name, and nothing runs."""

from __future__ import annotations

import re

import pytest

from fer_lab.command_line import check_overrides
from fer_lab.errors import FerLabError


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["+trainer.epoch=1"],
            "unknown config key 'trainer.epoch' in `+trainer.epoch=1`: did you mean `trainer.epochs=1`?",
        ),
        (
            ["trainer.epoch=1"],
            "unknown config key 'trainer.epoch' in `trainer.epoch=1`: did you mean `trainer.epochs=1`?",
        ),
        (["data=class_folders", "++data.class_mapping=[]"], "did you mean `data.class_map=[]`?"),
        (["model=cnn_tny"], "unknown model=cnn_tny: did you mean model=cnn_tiny? The options are: cnn_3block, "),
        (["model=cnn_3block,cnn_tny"], "did you mean model=cnn_tiny?"),
        (["+experiment=cnn_cpu_budgt"], "did you mean experiment=cnn_cpu_budget?"),
    ],
)
def test_a_typo_is_refused_with_the_nearest_valid_name(args, message):
    with pytest.raises(FerLabError) as refused:
        check_overrides("train", args)
    assert message in str(refused.value)
    assert "_schema" not in str(refused.value)  # the real options only


@pytest.mark.parametrize(
    "args",
    [
        ["model=cnn_3block,custom_cnn", "trainer.epochs=2"],  # a sweep
        ["+experiment=ckplus_finetune", "data.path=/abs/ckplus48"],  # a recipe's keys
        ["data=fer2013,class_folders", "data.class_map=[]"],  # a key of one swept option
        ["+search_space.dropout={key:model.head.dropout,type:float,min:0.1,max:0.5}"],  # an open section
        ["hydra/job_logging=none", "hydra.run.dir=/tmp/x", "~evaluation.sample_grid"],
    ],
)
def test_valid_overrides_pass(args):
    check_overrides("tune" if args[0].startswith("+search_space") else "train", args)


def test_the_command_refuses_a_mistyped_key_before_anything_runs(state_root, run_module):
    result = run_module("fer_lab.train", "data=synthetic", "+trainer.epoch=1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "fer_lab: error: unknown config key 'trainer.epoch' in `+trainer.epoch=1`: did you mean `trainer.epochs=1`? "
        "(`--cfg job` prints every key of the command's config)"
    )
    assert not (state_root / "mlflow.db").exists()


def test_overrides_hydra_cannot_apply_are_one_clear_message_for_commands_hydra_does_not_start():
    from fer_lab.command_line import compose_config

    with pytest.raises(FerLabError, match=r"no key before '='"):
        check_overrides("export", ["=onnx"])
    with pytest.raises(FerLabError, match=r"unknown config key 'a{300}'"):
        check_overrides("export", ["a" * 300 + "=1"])  # no folder can have that name
    for bad, reason in [
        ("split=[val", "no viable alternative"),
        ("+split=val", "An item is already at 'split'"),
        ("split=${oops}", "Interpolation key 'oops' not found"),
    ]:
        with pytest.raises(FerLabError, match=re.escape(f"cannot apply the overrides {bad}: ") + ".*" + reason):
            compose_config("compare", [bad])
