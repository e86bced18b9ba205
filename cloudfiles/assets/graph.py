"""The asset hierarchy as server-side SVG: directories cyan, valid assets green, invalid red."""
from __future__ import annotations

from html import escape


def hierarchy_svg(assets: list[dict]) -> str:
    """An indented tree of asset paths relative to the ingress root."""
    nodes: dict[str, str] = {}
    for a in assets:
        parts = (a.get("asset_path_relative") or "").split("/")
        for i in range(1, len(parts)):
            nodes.setdefault("/".join(parts[:i]), "dir")
        nodes["/".join(parts)] = "valid" if a.get("asset_valid") else "invalid"
    colors = {"dir": "#00b7c7", "valid": "#2ca02c", "invalid": "#d62728"}
    lines = []
    for i, path in enumerate(sorted(nodes)):
        depth = path.count("/")
        y = 20 + i * 22
        x = 10 + depth * 24
        kind = nodes[path]
        lines.append(f'<g class="node {kind}"><circle cx="{x}" cy="{y - 4}" r="6" fill="{colors[kind]}"/>'
                     f'<text x="{x + 12}" y="{y}" font-size="13">{escape(path.rsplit("/", 1)[-1])}</text></g>')
    h = 30 + len(nodes) * 22
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{h}">{"".join(lines)}</svg>'
