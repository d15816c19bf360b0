"""schemathesis against the app's own ``/openapi.json``: at least 200 generated requests per operation.

For every operation with inputs, 200 requests drawn from schemathesis' positive (valid by the schema)
and negative (invalid) strategies (plus, for routes taking a model id, valid requests naming the
served model); an operation without inputs has a single possible request.  Every response is
checked: no 5xx, a status code the schema declares, a content type and headers that match it (by
schemathesis), and a body valid against the schema in ``/openapi.json`` (by a JSON Schema 2020-12
validator: schemathesis 4.32 rewrites OpenAPI 3.1's ``prefixItems`` in response schemas into the old
tuple form and then rejects its own rewrite).  The app serves a tiny model so that the generation
routes do real work quickly.  About 30 s of CPU (marked slow); the counts are printed with ``-s``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    status_code_conformance,
)
from support.tiny_charlm import random_model

from rnnlab.server.app import create_app
from rnnlab.server.settings import Settings

EXAMPLES = 200
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance]


def _app():
    folder = Path(tempfile.mkdtemp(prefix="rnnlab-schemathesis-"))
    random_model(hidden=8, layers=1).save(folder / "tiny.safetensors")
    return create_app(Settings(default_model=None, models=(folder / "tiny.safetensors",), generation_time_limit=5.0))


APP = _app()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
DOC = APP.openapi()


def body_validator(method: str, path: str, status: int) -> jsonschema_rs.Draft202012Validator:
    """A validator for the JSON body the schema declares for this operation and status."""
    response = DOC["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": DOC["components"]})


def _has_inputs(operation) -> bool:
    return any(len(part) for part in (operation.body, operation.path_parameters, operation.query, operation.headers))


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_every_operation_answers_within_its_schema_and_never_with_a_server_error(operation):
    statuses: dict[int, int] = {}
    if _has_inputs(operation):
        parts = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        if "model_id" in [p.name for p in operation.path_parameters]:  # random ids almost never name a model
            parts.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"model_id": "tiny"}))
        strategy = st.one_of(parts)
    else:
        strategy = operation.as_strategy(GenerationMode.POSITIVE)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(checks=CHECKS)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        validator = body_validator(operation.method, operation.path, response.status_code)
        errors = [e.message for e in validator.iter_errors(response.json())]
        assert not errors, (response.status_code, errors[:3], response.text[:300])

    check()
    count = sum(statuses.values())
    print(f"{operation.method.upper()} {operation.path}: {count} requests, statuses {dict(sorted(statuses.items()))}")
    assert count >= (EXAMPLES if _has_inputs(operation) else 1)
    assert not any(status >= 500 for status in statuses)


def test_every_json_operation_of_the_app_is_covered():
    paths = {f"{op.method.upper()} {op.path}" for op in OPERATIONS}
    assert {"POST /api/generate", "POST /api/visualizer/trace", "GET /api/models/{model_id}"} <= paths
