"""A self-contained HTML page: figures by relative link, tables, and training curves as inline SVG.

Nothing is fetched from the network (no scripts, fonts or style sheets from elsewhere), so the
page opens from a copied folder or an archive. Curves are drawn as SVG polylines here instead
of with a plotting library: posesynth has no plotting dependency.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.0em; margin-top: 1.5em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { image-rendering: pixelated; max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 640px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f6f6f6; } td:first-child, th:first-child { text-align: left; }
.warning { color: #a00; } .plots svg { margin: 0 0.5em 0.5em 0; }
""".strip()


def read_log(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The scalar series of a ``log.jsonl`` (one JSON object per logged step, with ``step``).

    Returns:
        ``{key: (steps (N,) int64, values (N,) float64)}`` for every key but ``step``, in order of
        first appearance; non-numeric values are left out. Empty when the file does not exist.
    """
    path = Path(path)
    series: dict[str, tuple[list[int], list[float]]] = {}
    if not path.is_file():
        return {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                steps, values = series.setdefault(key, ([], []))
                steps.append(int(row["step"]))
                values.append(float(value))
    return {k: (np.asarray(s, np.int64), np.asarray(v, np.float64)) for k, (s, v) in series.items()}


def _tick(value: float) -> str:
    return f"{value:.3g}"


def svg_line_plot(steps: np.ndarray, values: np.ndarray, title: str, width: int = 300, height: int = 170) -> str:
    """A small line plot as an inline SVG element: one series, labelled axes ranges.

    Args:
        steps: (N,) x values (training steps).
        values: (N,) y values; non-finite points are dropped.
        title: shown above the plot.
        width, height: SVG size, pixels.
    Returns:
        An ``<svg>`` element as a string.
    """
    keep = np.isfinite(values)
    x, y = np.asarray(steps, np.float64)[keep], np.asarray(values, np.float64)[keep]
    left, right, top, bottom = 48, 10, 22, 22
    pw, ph = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
             f'<text x="{left}" y="14" font-size="12" fill="#222">{html.escape(title)}</text>']
    if len(x):
        x0, x1 = float(x.min()), float(x.max())
        y0, y1 = float(y.min()), float(y.max())
        if x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 == y0:
            pad = abs(y0) * 0.05 or 1.0
            y0, y1 = y0 - pad, y1 + pad
        px = left + (x - x0) / (x1 - x0) * pw
        py = top + (1 - (y - y0) / (y1 - y0)) * ph
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
        parts += [f'<polyline points="{points}" fill="none" stroke="#1f6fb4" stroke-width="1.5"/>',
                  f'<text x="{left - 4}" y="{top + 9}" font-size="10" text-anchor="end">{_tick(y1)}</text>',
                  f'<text x="{left - 4}" y="{top + ph}" font-size="10" text-anchor="end">{_tick(y0)}</text>',
                  f'<text x="{left}" y="{height - 6}" font-size="10">{_tick(x0)}</text>',
                  f'<text x="{left + pw}" y="{height - 6}" font-size="10" text-anchor="end">step {_tick(x1)}</text>']
        if len(x) == 1:
            parts.append(f'<circle cx="{px[0]:.1f}" cy="{py[0]:.1f}" r="2.5" fill="#1f6fb4"/>')
    else:
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" font-size="11" text-anchor="middle">'
                     f'no finite values</text>')
    parts.append("</svg>")
    return "".join(parts)


def curves_html(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """One small SVG plot per series (losses have different scales, so no shared axes)."""
    if not series:
        return "<p>No training log (<code>log.jsonl</code>) next to the model.</p>"
    plots = "".join(svg_line_plot(steps, values, key) for key, (steps, values) in series.items())
    return f'<div class="plots">{plots}</div>'


def figure(src: str, caption: str, width: int | None = None) -> str:
    """An image by relative link with a caption (``src`` relative to the page's folder)."""
    size = f' width="{width}"' if width else ""
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}"{size}>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; floats are written with 3 decimals (NaN as a dash)."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.3f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, sections: Sequence[tuple[str, str]], intro: str = "") -> str:
    """A whole HTML document.

    Args:
        title: the page title and heading (escaped).
        sections: (heading, HTML body) pairs; headings are escaped, bodies are used as they are.
        intro: HTML shown under the title.
    """
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{content}\n" for h, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{intro}\n{body}</body></html>\n")


def write_page(path: str | os.PathLike, text: str) -> Path:
    """Write an HTML page atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = ["read_log", "svg_line_plot", "curves_html", "figure", "table", "page", "write_page"]
