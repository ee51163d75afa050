"""A Griffe extension for the API reference (mkdocs.yml loads it): source comments as field descriptions.

fer_lab documents config dataclass fields with comments (`epochs: int = 30  # ...`, or comment lines just above
the field), which Griffe does not read. This extension makes them the fields' docstrings, so the rendered configs
say what each key means. It also escapes `<placeholder>` text outside code in docstrings, which Markdown would
otherwise swallow as an HTML tag (`runs:/<run id>/model`).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import griffe

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?\1")


@cache
def _comments(path: str) -> dict[int, tuple[str, bool]]:
    """Line number -> (comment text, whether code precedes it on that line) for every comment of a file."""
    found: dict[int, tuple[str, bool]] = {}
    code_rows: set[int] = set()
    source = Path(path).read_text(encoding="utf-8")
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row = token.start[0]
            found[row] = (token.string.lstrip("#").strip(), row in code_rows)
        elif token.type not in skip:
            code_rows.update(range(token.start[0], token.end[0] + 1))
    return found


def _field_comment(path: str, first: int, last: int) -> str:
    """The comment lines right above lines first..last, then the comments at the end of those lines."""
    comments = _comments(path)
    above: list[str] = []
    row = first - 1
    while row in comments and not comments[row][1]:
        above.insert(0, comments[row][0])
        row -= 1
    trailing = [comments[r][0] for r in range(first, last + 1) if r in comments and comments[r][1]]
    return " ".join(part for part in (*above, *trailing) if part)


def escape_tags(text: str) -> str:
    """`text` with `<` escaped where Markdown would start an HTML tag, except in code spans and code blocks."""
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith("    "):
            out.append(line)
            continue
        pos, parts = 0, []
        for span in _CODE_SPAN.finditer(line):
            parts += [_TAG_START.sub("&lt;", line[pos : span.start()]), span.group(0)]
            pos = span.end()
        out.append("".join([*parts, _TAG_START.sub("&lt;", line[pos:])]))
    return "\n".join(out)


class FieldComments(griffe.Extension):
    """Class attributes without a docstring get their source comments as one; docstrings get `<` escaped."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, agent, **kwargs
    ) -> None:
        if attr.docstring is not None or not isinstance(node, ast.AST) or not attr.parent or not attr.parent.is_class:
            return
        if attr.filepath is None or attr.lineno is None:
            return
        text = _field_comment(str(attr.filepath), attr.lineno, attr.endlineno or attr.lineno)
        if text:
            attr.docstring = griffe.Docstring(escape_tags(text), parent=attr)

    def on_instance(self, *, node: ast.AST | griffe.ObjectNode, obj: griffe.Object, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape_tags(obj.docstring.value)
