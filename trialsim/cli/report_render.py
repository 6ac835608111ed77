"""The report as a document (sections of text, tables, figures and commands) and as a file: one self-contained
HTML page, or Markdown with its PNG images beside it.

HTML: the style is inline, every image an inline ``data:image/png;base64`` URL, every text escaped; the page
names no other file and no address. Markdown: ``design.md`` and ``design_<figure>.png`` next to it. Every file is
written whole or not at all (:func:`trialsim.cli.files.write_output`).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from .files import write_output

__all__ = ["Report", "Section", "write_report", "render_html", "render_markdown"]


@dataclass
class Section:
    """A titled part of the report: paragraphs, tables (headers and rows of text), figures (name, PNG bytes)
    and command lines, in the order given."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        self.blocks.append(("text", paragraph))
        return self

    def table(self, headers: list[str], rows: list[list[str]]) -> Section:
        self.blocks.append(("table", (headers, rows)))
        return self

    def figure(self, name: str, png: bytes, caption: str) -> Section:
        self.blocks.append(("figure", (name, png, caption)))
        return self

    def code(self, lines: list[str]) -> Section:
        self.blocks.append(("code", lines))
        return self


@dataclass
class Report:
    title: str
    stamp: str
    sections: list[Section] = field(default_factory=list)

    def add(self, title: str) -> Section:
        self.sections.append(Section(title))
        return self.sections[-1]

_STYLE = """
body { font-family: sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }
figure { margin: 1rem 0; } img { max-width: 100%; } figcaption { font-size: 0.85rem; color: #555; }
.stamp { font-size: 0.8rem; color: #777; }
"""


def render_html(report: Report) -> str:
    """The whole page as one string."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(report.title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
           f"<h1>{e(report.title)}</h1>", f'<p class="stamp">{e(report.stamp)}</p>']
    for section in report.sections:
        out.append(f"<h2>{e(section.title)}</h2>")
        for kind, body in section.blocks:
            if kind == "text":
                out.append(f"<p>{e(body)}</p>")
            elif kind == "table":
                headers, rows = body
                out.append("<table>")
                if any(headers):
                    out.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead>")
                out.append("<tbody>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                                               for row in rows) + "</tbody>")
                out.append("</table>")
            elif kind == "figure":
                name, png, caption = body
                data = base64.b64encode(png).decode("ascii")
                out.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{e(caption)}</figcaption></figure>")
            else:
                out.append("<pre><code>" + e("\n".join(body)) + "</code></pre>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def render_markdown(report: Report, image_stem: str) -> tuple[str, dict[str, bytes]]:
    """(the Markdown text, {image file name: PNG bytes}); images are named ``<image_stem>_<figure>.png``."""
    out = [f"# {report.title}", "", report.stamp, ""]
    images: dict[str, bytes] = {}
    for section in report.sections:
        out += [f"## {section.title}", ""]
        for kind, body in section.blocks:
            if kind == "text":
                out += [body, ""]
            elif kind == "table":
                headers, rows = body
                cells = [[c.replace("|", "\\|") for c in row] for row in [headers, *rows]]
                out.append("| " + " | ".join(cells[0]) + " |")
                out.append("|" + "---|" * len(headers))
                out += ["| " + " | ".join(row) + " |" for row in cells[1:]]
                out.append("")
            elif kind == "figure":
                name, png, caption = body
                file_name = f"{image_stem}_{name}.png"
                images[file_name] = png
                out += [f"![{caption}]({file_name})", ""]
            else:
                out += ["```", *body, "```", ""]
    return "\n".join(out), images


def write_report(report: Report, path: str) -> None:
    """Write ``report`` to ``path`` (``.html`` or ``.md``), each file whole or not at all."""
    target = Path(path)
    if target.suffix.lower() == ".html":
        text = render_html(report)
        write_output("--out", path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return
    text, images = render_markdown(report, target.stem)
    for name, png in images.items():
        write_output("--out", str(target.with_name(name)), _bytes_writer(png))
    write_output("--out", path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _bytes_writer(data: bytes) -> Callable[[str], object]:
    return lambda tmp: Path(tmp).write_bytes(data)
