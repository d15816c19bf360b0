"""The page and its assets are served by the app itself: no CDN, no external font."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rnnlab

WEB = Path(rnnlab.__file__).parent / "web"
TESTIDS = ["cell-type", "hidden-size", "sequence-type", "sequence-example", "step-forward", "step-back", "play",
           "unrolled-diagram", "hidden-heatmap", "temperature", "prompt", "generate", "generated-output",
           "next-char-distribution", "math-forward"]


def test_the_page_is_served_with_its_sections_in_order(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    ids = ["introduction", "visualizer", "generation", "math", "vanishing", "applications", "takeaways"]
    positions = [html.index(f'<section id="{i}"') for i in ids]
    assert positions == sorted(positions)


def test_every_test_hook_is_in_the_page_or_its_views():
    sources = (WEB / "index.html").read_text() + "".join(p.read_text() for p in (WEB / "js").rglob("*.js"))
    # data-testid="x" in HTML, "data-testid": "x" or testid: "x" in the views
    missing = [t for t in TESTIDS if not re.search(r'testid"?\s*[=:]\s*"' + re.escape(t) + '"', sources)]
    assert not missing


@pytest.mark.parametrize("path,kind", [
    ("/static/vendor/plotly.min.js", "javascript"),
    ("/static/js/main.js", "javascript"),
    ("/static/css/base.css", "css"),
    ("/static/fonts/latinmodern-math.otf", "font"),
    ("/docs", "html"),
])
def test_assets_are_served_locally(client, path, kind):
    r = client.get(path)
    assert r.status_code == 200, path
    assert kind in r.headers["content-type"] or (kind == "font" and len(r.content) > 100_000)


def test_the_openapi_schema_lists_every_resource(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/health", "/api/visualizer/options", "/api/visualizer/trace", "/api/models",
            "/api/models/{model_id}/distribution", "/api/generate"} <= set(paths)


def test_every_operation_says_what_it_does_on_the_docs_page(client):
    paths = client.get("/openapi.json").json()["paths"]
    undescribed = [f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
                   if len(op.get("description", "").split()) < 4]
    assert undescribed == []


def test_no_asset_loads_anything_from_another_host():
    remote = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import[^;]*["'](https?:)?//|fetch\(\s*["'](https?:)?//""")
    offenders = []
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.js"), *WEB.rglob("*.css")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if remote.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()[:80]}")
    assert not offenders


def test_the_math_font_ships_with_its_licence():
    assert (WEB / "fonts" / "latinmodern-math.otf").stat().st_size > 500_000
    licence = (WEB / "fonts" / "GUST-FONT-LICENSE.txt").read_text()
    assert "GUST Font License" in licence and "LaTeX Project Public License" in licence


def test_docs_http_api_lists_every_input_range_with_its_values():
    from rnnlab.server.schemas.limits import RANGES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "http_api.md").read_text()
    mine = ["network.hidden_size", "network.recurrent_scale", "network.seed", "sequence.length", "sequence.text",
            "seconds", "lr", "length", "prompt", "temperature", "top_k", "seed"]  # visualizer, models, generation
    missing = []
    for field, (lo, hi) in ((f, RANGES[f]) for f in mine):
        name = field.split(".")[-1]
        if name in ("text", "prompt"):
            ok = f"at most {hi} characters" in doc
        else:
            ok = f"{lo}–{hi}" in doc or f"{lo}–{hi} " in doc
        if not ok or f"`{field}" not in doc and f"`{name}" not in doc:
            missing.append(f"{field} {lo}–{hi}")
    assert not missing
