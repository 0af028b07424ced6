"""report.html: the report's Document (document.py) as one self-contained page.

The page carries everything it shows: the CSS is inline, each plot is its SVG inlined (ids
prefixed per plot, so that two plots never share one), no script, no font, nothing fetched. It
reads on a phone (one column, tables scroll sideways inside their box) and on a wide screen (the
contents stay beside the text). Tables and figures are written from the Document's structure;
prose (Text blocks and table cells, markdown written by the section writers) goes through
python3-markdown, a Debian package; without it the prose is shown as its markdown source.
"""

import base64
import html
import os
import re

from plot.document import Figure, Table, Text

MARKDOWN_HINT = (
    "python3-markdown missing: report.html shows its prose as markdown source (install it with"
    " sudo apt-get install -y python3-markdown)"
)

CSS = """
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --bg: #fff;
  --accent: #0b57d0; --ok: #137333; --bad: #b3261e; --unsure: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 1rem 1.25rem 0; }
h1 { font-size: 1.5rem; margin: 0.2rem 0 0.6rem; line-height: 1.25; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.6rem; padding-top: 0.6rem;
  border-top: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.4rem; }
a { color: var(--accent); }
.layout { display: block; padding: 0 1.25rem 3rem; }
nav.toc { font-size: 0.92rem; border: 1px solid var(--line); border-radius: 6px;
  padding: 0.4rem 0.9rem; margin: 0.6rem 0 1rem; }
nav.toc ol { margin: 0.3rem 0; padding-left: 1.3rem; }
nav.toc summary { cursor: pointer; font-weight: 600; }
nav.toc.wide { display: none; }
main { min-width: 0; max-width: 78rem; }
p, li { overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.6rem 0 1rem;
  -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: 0.88rem; min-width: 32rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left;
  vertical-align: top; }
th { background: #f3f4f6; position: sticky; top: 0; }
td { min-width: 2.5rem; }
tr:target { outline: 3px solid var(--accent); }
code { font-size: 0.88em; background: #f3f4f6; padding: 0.05rem 0.25rem; border-radius: 3px;
  overflow-wrap: anywhere; }
pre { overflow-x: auto; background: #f3f4f6; padding: 0.6rem; font-size: 0.85rem; }
figure { margin: 1rem 0 1.6rem; }
figure svg, figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: var(--muted); }
.verdict.confirmed { color: var(--ok); }
.verdict.refuted { color: var(--bad); }
.verdict.inconclusive { color: var(--unsure); }
.preamble p { margin: 0.4rem 0; }
@media (min-width: 1100px) {
  .layout { display: grid; grid-template-columns: 16rem minmax(0, 1fr); gap: 2rem; }
  nav.toc.narrow { display: none; }
  nav.toc.wide { display: block; }
  nav.toc { position: sticky; top: 0.8rem; align-self: start; max-height: 95vh; overflow-y: auto;
    margin-top: 2rem; }
}
"""

VERDICT_CELL = re.compile(r"^\*\*(confirmed|refuted|inconclusive)\*\*$")


def has_markdown():
    try:
        import markdown  # noqa: F401
    except ImportError:
        return False
    return True


def prose(lines):
    """Markdown lines as HTML (python3-markdown), tables wrapped to scroll sideways."""
    text = "\n".join(lines).strip()
    if not text:
        return ""
    if not has_markdown():
        return f'<pre class="md">{html.escape(text)}</pre>'
    import markdown

    out = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
    return out.replace("<table>", '<div class="scroll"><table>').replace(
        "</table>", "</table></div>"
    )


def inline(text):
    """One table cell or caption of inline markdown as HTML."""
    text = str(text).replace("\\|", "|")
    if VERDICT_CELL.match(text):
        verdict = VERDICT_CELL.match(text).group(1)
        return f'<strong class="verdict {verdict}">{verdict}</strong>'
    if not has_markdown():
        return html.escape(text)
    import markdown

    out = markdown.markdown(text).strip()
    if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        out = out[3:-4]
    return out


def table_html(table):
    head = "".join(f"<th>{inline(h)}</th>" for h in table.header)
    rows = []
    for i, row in enumerate(table.rows):
        rid = f' id="{html.escape(table.row_ids[i])}"' if table.row_ids else ""
        rows.append(f"<tr{rid}>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def inline_svg(path, prefix):
    """The SVG file as an element of the page: prolog and metadata dropped, every id (and every
    reference to one) prefixed, so that several plots on one page never share an id."""
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{prefix}" ', 1)


def figure_html(figure, folder):
    svg = os.path.join(folder, f"{figure.stem}.svg")
    png = os.path.join(folder, f"{figure.stem}.png")
    if os.path.isfile(svg):
        picture = inline_svg(svg, figure.stem)
    elif os.path.isfile(png):
        with open(png, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        picture = f'<img alt="{html.escape(figure.title)}" src="data:image/png;base64,{data}">'
    else:
        picture = f"<p>{html.escape(figure.stem)}.svg is missing from this folder.</p>"
    return (
        f'<figure id="{figure.stem}"><h3>{html.escape(figure.title)}</h3>{picture}'
        f"<figcaption>{inline(figure.caption)}</figcaption></figure>"
    )


def block_html(block, folder):
    if isinstance(block, Text):
        return prose(block.lines)
    if isinstance(block, Table):
        return table_html(block)
    if isinstance(block, Figure):
        return figure_html(block, folder)
    raise TypeError(f"not a block: {block!r}")


def toc_html(doc):
    """The contents twice: folded above the text on a narrow screen (the verdicts stay on the
    first screen of a phone), open beside it on a wide one; CSS shows one of them."""
    items = "".join(
        f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>'
        for s in doc.sections
        if s.level == 2
    )
    return (
        f'<nav class="toc narrow" aria-label="Contents"><details><summary>Contents</summary>'
        f"<ol>{items}</ol></details></nav>"
        f'<nav class="toc wide" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol>'
        "</nav>"
    )


def page(doc, folder):
    """The whole page; folder: where the Figures' SVGs are."""
    preamble = "".join(block_html(b, folder) for b in doc.preamble)
    sections = "".join(
        f'<section id="{s.anchor}"><h{s.level}>{html.escape(s.title)}</h{s.level}>'
        + "".join(block_html(b, folder) for b in s.blocks)
        + "</section>"
        for s in doc.sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head>\n<body>"
        f'<header><h1>{html.escape(doc.title)}</h1><div class="preamble">{preamble}</div>'
        f'</header>\n<div class="layout">{toc_html(doc)}<main>{sections}</main></div>'
        "</body></html>\n"
    )
