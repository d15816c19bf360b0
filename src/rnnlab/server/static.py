"""The page and its static files, all served by the app itself (no CDN, no external font).

- ``/``                        web/index.html
- ``/docs``                    web/docs.html: a readable API reference drawn from ``/openapi.json``
                               (FastAPI's Swagger UI would load its scripts from a CDN)
- ``/static/...``              web/ (css, js, fonts)
- ``/static/vendor/plotly.min.js``  Plotly.js from the installed ``plotly`` Python package
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
NO_CACHE = {"Cache-Control": "no-cache"}


def plotly_js_path() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def install_static(app: FastAPI) -> None:
    plotly_js = plotly_js_path()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=NO_CACHE)

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(WEB_DIR / "docs.html", media_type="text/html", headers=NO_CACHE)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        if not plotly_js.is_file():
            raise HTTPException(404, "plotly.min.js not found in the installed plotly package")
        return FileResponse(plotly_js, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
