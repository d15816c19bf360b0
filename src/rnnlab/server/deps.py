"""Typed dependencies: the managers the app built at start, for HTTP routes and WebSockets alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .managers.generation import GenerationManager
from .managers.models import ModelRegistry
from .managers.visualizer import VisualizerManager
from .settings import Settings


def _settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def _visualizer(conn: HTTPConnection) -> VisualizerManager:
    return conn.app.state.visualizer


def _models(conn: HTTPConnection) -> ModelRegistry:
    return conn.app.state.models


def _generation(conn: HTTPConnection) -> GenerationManager:
    return conn.app.state.generation


SettingsDep = Annotated[Settings, Depends(_settings)]
VisualizerDep = Annotated[VisualizerManager, Depends(_visualizer)]
ModelsDep = Annotated[ModelRegistry, Depends(_models)]
GenerationDep = Annotated[GenerationManager, Depends(_generation)]
