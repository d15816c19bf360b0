"""The models resource: the char-LMs to generate with, and a model's next-character distribution."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..deps import GenerationDep, ModelsDep
from ..schemas.errors import ErrorResponse
from ..schemas.models import MODEL_ID_PATTERN, DistributionRequest, DistributionResponse, ModelInfo, ModelList

router = APIRouter(prefix="/api/models", tags=["models"])
ModelId = Annotated[str, Path(pattern=MODEL_ID_PATTERN, description="a model id from GET /api/models")]
ERRORS = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.get("", response_model=ModelList)
def list_models(models: ModelsDep) -> dict:
    """Every model the server knows, the default one, and why none is available if so."""
    return models.list()


@router.get("/{model_id}", response_model=ModelInfo, responses=ERRORS)
def model_info(model_id: ModelId, models: ModelsDep) -> dict:
    """One model: its cell, sizes and vocabulary, where it came from and its training metadata, or why it is unavailable."""
    return models.info(model_id)


@router.post("/{model_id}/distribution", response_model=DistributionResponse, responses=ERRORS)
def distribution(model_id: ModelId, req: DistributionRequest, generation: GenerationDep) -> dict:
    """The next-character distribution after a prompt, its entropy, and entropy against temperature."""
    return generation.distribution(model_id, req)
