"""The server's settings: one frozen dataclass handed to ``create_app(settings)``.

Nothing is read from module globals, so tests build as many apps as they like with different
settings.  The ``rnnlab serve`` command fills it from its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..tasks.charlm import DEFAULT_MODEL_PATH
from .limits import MAX_BODY_BYTES, MAX_WS_MESSAGE_BYTES


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # char-LM checkpoints the page can generate with, addressed by id (never by a client's path)
    default_model: Path | None = DEFAULT_MODEL_PATH  # the bundled model; None or a missing file: none
    models: tuple[Path, ...] = ()  # extra checkpoints (``rnnlab serve --model PATH``)
    models_dir: Path | None = None  # every ``*.safetensors`` in it is listed too
    preload: bool = True  # load the models at start (the first request is then instant)
    # limits (also enforced by the request schemas; listed in docs/http_api.md)
    max_training_jobs: int = 2  # concurrent in-page trainings of the visualizer network
    trained_models_kept: int = 32  # trained visualizer networks remembered (least recently used go)
    generation_time_limit: float = 60.0  # seconds one streamed generation may run
    # security (server/security.py, docs/security.md)
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted besides loopback and the bound address
    token: str | None = field(default=None, repr=False)  # required from clients; `rnnlab serve` makes one off loopback
    max_body_bytes: int = MAX_BODY_BYTES  # HTTP request body, bytes received (413 beyond)
    max_ws_message_bytes: int = MAX_WS_MESSAGE_BYTES  # one WebSocket message (closed with 1009 beyond)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
