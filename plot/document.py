"""The report as a structured document, rendered to markdown here and to HTML by report_html.py.

A Document is a title, a preamble (blocks before the first section) and sections; a section holds
blocks. The blocks the HTML gives a structure of its own are structured here: a Table (cells of
inline markdown, optional row ids a link can target), a Figure (a plot of the results folder).
Prose, lists and code are Text: markdown lines, rendered as they are to report.md and by
python3-markdown to report.html.
"""

import re
from dataclasses import dataclass, field


@dataclass
class Text:
    """Markdown lines (paragraphs, lists, code), written to report.md as they are."""

    lines: list


@dataclass
class Table:
    """A table of inline-markdown cells. row_ids name rows a link can reach (#claim-7): an
    anchor in the row's first cell in markdown, the row's id in HTML."""

    header: list
    rows: list
    row_ids: list = None


@dataclass
class Figure:
    """A plot of the results folder: stem.png in markdown, stem.svg inlined in HTML."""

    stem: str
    title: str
    caption: str


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    level: int = 2

    @property
    def anchor(self):
        return slug(self.title)


@dataclass
class Document:
    title: str
    preamble: list
    sections: list


def slug(title):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def from_lines(lines):
    """A Section from the markdown lines of a section writer: its '## title' line, a blank line,
    then the body as Text. [] (no section) stays None."""
    if not lines:
        return None
    hashes, title = lines[0].split(" ", 1)
    assert set(hashes) == {"#"} and lines[1] == "", lines[:2]
    return Section(title, [Text(lines[2:])], level=len(hashes))


# ---- markdown ---------------------------------------------------------------------------------


def table_lines(table):
    out = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for i, row in enumerate(table.rows):
        cells = list(row)
        if table.row_ids:
            cells[0] = f'<a id="{table.row_ids[i]}"></a>{cells[0]}'
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return out


def figure_lines(figure):
    return [
        f"### {figure.title}",
        "",
        f"![{figure.title}]({figure.stem}.png)",
        "",
        f"{figure.caption} ([SVG]({figure.stem}.svg))",
        "",
    ]


def block_lines(block):
    if isinstance(block, Text):
        return list(block.lines)
    if isinstance(block, Table):
        return table_lines(block) + [""]
    if isinstance(block, Figure):
        return figure_lines(block)
    raise TypeError(f"not a block: {block!r}")


def markdown(doc):
    lines = [f"# {doc.title}", ""]
    for block in doc.preamble:
        lines += block_lines(block)
    for section in doc.sections:
        lines += ["#" * section.level + " " + section.title, ""]
        for block in section.blocks:
            lines += block_lines(block)
    return "\n".join(lines) + "\n"
