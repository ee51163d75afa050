"""The commands in README.md and docs/*.md run as written.

Commands are read from fenced bash blocks (one per line, `\\` continuations joined) and from inline code spans
that start with `python` or `make`. Each is one test case:

- `make <target>` names a target of the Makefile; when the target runs a Hydra command of fer_lab, that command,
  with the variables given (`TUNE="..."`), must compose as well;
- `python -m fer_lab.<module>` names a module that exists, and `python <file>.py` a file;
- the Hydra commands (`train`, `evaluate`, `tune` and every module with a `conf/<module>.yaml`) compose with their
  overrides, as Hydra's compose API composes them (sweeps of `--multirun` commands are expanded);
- README.md's relative links point to files of the repository.

A command holding a placeholder (`<name>`, `...`, `[--flag]`) is illustrative: only its module or target is checked.
No command is run, and nothing is trained.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
MAKEFILE = ROOT / "Makefile"
CONF_DIR = ROOT / "conf"
PYTHONS = {"python", "python3", ".venv/bin/python", "$(PY)"}
HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-dir", "-cd"}
HYDRA_FLAGS = {"--multirun", "-m", "--resolve", "--info", "-i", "--help", "--hydra-help"}
# modules that pass their Hydra overrides on to another command's config, after flags of their own
FORWARDS = {"fer_lab.tuning.local_cluster": ("tune", {"--workers", "--port"})}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
MAX_SWEEP_JOBS = 16


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str

    @property
    def id(self) -> str:
        text = self.text if len(self.text) <= 90 else self.text[:87] + "..."
        return f"{self.page}:{self.line} {text}"

    @property
    def illustrative(self) -> bool:
        return bool(re.search(r"<[^>]*>|\.\.\.|\[--|\*", self.text))

    def words(self) -> list[str]:
        """The command's words, environment assignments before it dropped."""
        words = shlex.split(self.text, comments=True)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        return words


def _without_comment(line: str) -> str:
    """`line` without its shell comment (a `#` that starts a word outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def _is_command(text: str) -> bool:
    words = text.split()
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    return len(words) > 1 and (words[0] in PYTHONS or words[0] == "make")


def _fenced_commands(page: str, lines: list[str]) -> list[Command]:
    commands, fence, pending, start = [], None, "", 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip()
            continue
        if fence not in ("bash", "sh", "shell"):
            continue
        if not pending:
            start = number
        pending += _without_comment(stripped).removesuffix("\\").strip() + " "
        if stripped.endswith("\\"):
            continue
        text, pending = pending.strip(), ""
        if _is_command(text):
            commands.append(Command(page, start, text))
    return commands


def _inline_commands(page: str, text: str) -> list[Command]:
    prose = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    commands = []
    for span in re.finditer(r"(`+)(.+?)\1", prose, flags=re.S):
        code = " ".join(span.group(2).split())
        if _is_command(code):
            commands.append(Command(page, prose.count("\n", 0, span.start()) + 1, code))
    return commands


def doc_commands() -> list[Command]:
    commands = []
    for path in PAGES:
        page, text = path.relative_to(ROOT).as_posix(), path.read_text()
        commands += _fenced_commands(page, text.splitlines()) + _inline_commands(page, text)
    return commands


COMMANDS = doc_commands()
MAKE_COMMANDS = [c for c in COMMANDS if c.words()[0] == "make"]
PYTHON_COMMANDS = [c for c in COMMANDS if c.words()[0] in PYTHONS]


def _makefile() -> tuple[dict[str, list[str]], dict[str, str]]:
    """The Makefile's targets with their recipe lines (continuations joined), and its simple variables."""
    targets: dict[str, list[str]] = {}
    variables: dict[str, str] = {}
    current = None
    lines = MAKEFILE.read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        if line.startswith("\t") and current is not None:
            targets[current].append(line.strip())
            continue
        assignment = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[?:]?=\s*(.*)$", line)
        target = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", line)
        if assignment:
            variables[assignment.group(1)] = assignment.group(2).strip()
            current = None
        elif target:
            current = target.group(1)
            targets.setdefault(current, [])
        else:
            current = None
    return targets, variables


MAKE_TARGETS, MAKE_VARIABLES = _makefile()


def _expand(recipe: str, variables: dict[str, str]) -> str:
    """A recipe line with its `$(NAME)` references replaced by the variables' values (others left as they are)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: variables.get(m.group(1), m.group(0)), recipe)


def _module_exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


POSITIONAL = {"fer_lab.compare"}  # modules whose arguments without `=` are model URIs, not overrides


def _hydra_job(words: list[str]) -> tuple[str, list[str], bool] | None:
    """(config name, overrides, multirun) of a `python -m fer_lab.<module> ...` command that composes a config."""
    if "-m" not in words:
        return None
    at = words.index("-m")
    module, args = words[at + 1], words[at + 2 :]
    config, own_flags = FORWARDS.get(module, (module.removeprefix("fer_lab."), set()))
    if not module.startswith("fer_lab.") or not (CONF_DIR / f"{config}.yaml").is_file():
        return None
    overrides, multirun, skip = [], False, False
    for arg in args:
        if skip:
            skip = False
        elif arg in HYDRA_FLAGS_WITH_VALUE or arg in own_flags:
            skip = True
        elif arg in HYDRA_FLAGS:
            multirun = multirun or arg in ("--multirun", "-m")
        elif not arg.startswith("-") and ("=" in arg or module not in POSITIONAL):
            overrides.append(arg)
    return config, overrides, multirun


def _jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override lists a command composes: one, or one per combination of a multirun's sweeps."""
    if not multirun:
        return [overrides]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    choices = []
    for text, parsed in zip(overrides, OverridesParser.create().parse_overrides(overrides), strict=True):
        if parsed.is_sweep_override():
            key = parsed.get_key_element()
            choices.append([f"{key}={value}" for value in parsed.sweep_string_iterator()])
        else:
            choices.append([text])
    jobs = [list(job) for job in itertools.product(*choices)]
    assert len(jobs) <= MAX_SWEEP_JOBS, f"{len(jobs)} jobs: keep documented sweeps small"
    return jobs


@pytest.fixture(scope="module")
def compose():
    """compose(config_name, overrides) -> the resolved config, as `python -m fer_lab.<config_name>` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    import fer_lab.extensions  # noqa: F401  (every config group's schema)
    from fer_lab.paths import CONF_DIR as conf_dir

    def compose_with(config_name: str, overrides: list[str]):
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=overrides)
        return OmegaConf.to_container(cfg, resolve=True)

    return compose_with


def _check_composes(compose, words: list[str], what: str) -> None:
    job = _hydra_job(words)
    if job is None:
        return
    config, overrides, multirun = job
    for overrides_of_job in _jobs(overrides, multirun):
        try:
            compose(config, overrides_of_job)
        except Exception as err:
            pytest.fail(f"{what}: `{config}` does not compose with {overrides_of_job}: {err}")


def test_commands_are_found():
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/training.md", "docs/inference.md"} <= pages
    assert any(c.words()[:3] == ["python", "-m", "fer_lab.train"] for c in COMMANDS)


@pytest.mark.parametrize("command", MAKE_COMMANDS, ids=lambda c: c.id)
def test_make_command(command, compose):
    words = command.words()[1:]
    targets = [w for w in words if "=" not in w and not w.startswith("-")]
    assignments = dict(w.split("=", 1) for w in words if ENV_ASSIGNMENT.match(w))
    assert targets, f"{command.id}: no target"
    for target in targets:
        if command.illustrative and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", target):
            continue
        assert target in MAKE_TARGETS, f"{command.id}: the Makefile has no target {target!r}"
        if command.illustrative:
            continue
        variables = {**MAKE_VARIABLES, **assignments, "PY": ".venv/bin/python", "CURDIR": str(ROOT)}
        for recipe in MAKE_TARGETS[target]:
            expanded = _expand(recipe, variables)
            if "$(" in expanded or not expanded.startswith(".venv/bin/python"):
                continue
            _check_composes(compose, shlex.split(expanded), f"{command.id} runs `{expanded}`")


@pytest.mark.parametrize("command", PYTHON_COMMANDS, ids=lambda c: c.id)
def test_python_command(command, compose):
    words = command.words()
    if len(words) > 2 and words[1] == "-m":
        module = words[2]
        if module.startswith("fer_lab") and re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", module):
            assert _module_exists(module), f"{command.id}: no module {module} (fer_lab/<module>.py or a package)"
    elif len(words) > 1 and words[1].endswith(".py"):
        assert (ROOT / words[1]).is_file(), f"{command.id}: no file {words[1]}"
    if not command.illustrative:
        _check_composes(compose, words, command.id)


def _readme_links() -> list[str]:
    text = re.sub(r"^```.*?^```", "", (ROOT / "README.md").read_text(), flags=re.S | re.M)
    links = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [link for link in links if not re.match(r"^(?:[a-z]+:|#)", link)]


@pytest.mark.parametrize("link", _readme_links())
def test_readme_link_points_to_a_file(link):
    assert (ROOT / link.split("#", 1)[0]).exists(), f"README.md links to {link}, which does not exist"
