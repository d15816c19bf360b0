"""``create_app(settings)``: the rnnlab web app (FastAPI), built fresh for each settings object.

    app = create_app(Settings(models=(Path("my.safetensors"),)))
    uvicorn.run(app, host="127.0.0.1", port=8000)

The app holds three managers on ``app.state`` (visualizer, models, generation); the routers are thin
and call them.  The HTTP contract is in ``docs/http_api.md``; the machine-readable schema at
``/openapi.json`` and a readable one at ``/docs``.
"""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from .errors import install_error_handlers
from .managers.generation import GenerationManager
from .managers.models import ModelRegistry
from .managers.visualizer import VisualizerManager
from .routers import applications, generation, gradients, health, models, visualizer
from .security import SecurityMiddleware
from .settings import Settings
from .static import install_static

ROUTERS = [health.router, visualizer.router, models.router, generation.router, gradients.router, applications.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = Settings() if settings is None else settings
    app = FastAPI(title="rnnlab", version=__version__, docs_url=None, redoc_url=None,
                  description="The rnnlab web app's JSON API: the RNN visualizer and character-level generation.")
    app.state.settings = settings
    app.state.visualizer = VisualizerManager(settings.max_training_jobs, settings.trained_models_kept)
    app.state.models = ModelRegistry(settings.default_model, settings.models, settings.models_dir, settings.preload)
    app.state.generation = GenerationManager(app.state.models, settings.generation_time_limit)
    app.add_middleware(SecurityMiddleware, settings=settings)  # security.py: host, origin, token, sizes
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_static(app)
    return app
