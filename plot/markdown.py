"""Markdown table text shared by the report and ./bench compare."""


def cell(text):
    """Any value as one markdown table cell: pipes escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")
