"""A result table's Markdown page as a self-contained HTML page, which Snakemake's report
shows inline (it shows Markdown files only as download links)."""

from __future__ import annotations

import html
import re

import markdown

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; margin: 1.2em;
       color: #222; max-width: 80em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f5; } tr:nth-child(even) td { background: #fafbfc; }
code { font-size: 0.92em; background: #f4f4f4; padding: 0 0.2em; }
"""


def markdown_page_html(text: str, title: str) -> str:
    """``text`` (Markdown with pipe tables, as :mod:`fewshotnas.analysis.tables` and the other
    table modules write it) as one HTML document with ``title`` and inline CSS, no external
    resources."""
    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    # a pipe escaped for the Markdown table (``\|``) stays escaped inside code: unescape it there
    body = re.sub(r"<code>(.*?)</code>", lambda m: "<code>" + m.group(1).replace("\\|", "|") + "</code>", body,
                  flags=re.S)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
