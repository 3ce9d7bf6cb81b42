"""Property-based fuzzing of every operation in the OpenAPI spec (schemathesis): no 500s.

Runs as an admin (so requests reach the deep code paths), as a squad leader and as an officer
(squad-bound roles: other squads' data is 404, some writes are 403, none may be a 5xx) and
anonymously, on SQLite and PostGIS, with a bounded number of examples per operation (fewer for the
squad-bound roles; about a minute in all). Marked ``slow``: CI runs it, ``pytest -m "not slow"``
deselects it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import BACKENDS, SECRET, Api, build_api, database_url
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_api(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    for url in database_url(request.param, folder):
        yield from build_api(url, login_attempts_per_minute=100)


def _spec() -> dict[str, Any]:
    """The OpenAPI document (building the app connects to nothing)."""
    app = create_app(Settings(database_url="sqlite:///unused.db", secret_key=SECRET))
    return app.openapi()


SPEC = _spec()
LABELS = [f"{method.upper()} {path}" for path, item in SPEC["paths"].items()
          for method in item if method in ("get", "post", "put", "patch", "delete")]


def _fuzz(api: Api, label: str, headers: dict[str, str], max_examples: int) -> list[int]:
    schema = schemathesis.openapi.from_dict(api.client.app.openapi())
    schema.app = api.client.app
    op = schema.find_operation_by_label(label)
    assert op is not None, label
    seen: list[int] = []

    @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE)
           | op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        seen.append(response.status_code)

    run()
    return seen


ROLES = [  # (test user, role, examples per operation): admin reaches the deepest code paths
    ("admin", "admin", 12),
    ("leader_sy", "squad_leader", 5),  # squad-bound: other squads are 404
    ("officer_sy", "officer", 5),  # squad-bound, the fewest rights (planning writes are 403)
]


@pytest.mark.parametrize(("user", "role", "examples"), ROLES, ids=[r[1] for r in ROLES])
@pytest.mark.parametrize("label", LABELS)
def test_no_server_errors(fuzz_api: Api, label: str, user: str, role: str,
                          examples: int) -> None:
    assert fuzz_api.principals[user].role == role
    codes = _fuzz(fuzz_api, label, fuzz_api.auth(user), examples)
    assert codes and max(codes) < 500, (role, label, sorted(set(codes)))


PUBLIC_PREFIXES = ("GET /health", "POST /api/auth/", "GET /openapi.json")
PUBLIC_LABELS = {"GET /ogc", "GET /ogc/conformance", "GET /ogc/api"}


@pytest.mark.parametrize("label", LABELS)
def test_anonymous_callers_get_no_data(fuzz_api: Api, label: str) -> None:
    codes = _fuzz(fuzz_api, label, {}, 3)
    if label not in PUBLIC_LABELS and not label.startswith(PUBLIC_PREFIXES):
        # 400 = a body FastAPI could not even parse: refused before auth, and no data either
        assert set(codes) <= {400, 401, 404, 405, 413, 422}, (label, codes)
        assert 200 not in codes
