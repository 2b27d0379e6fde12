"""schemathesis against our own OpenAPI document: no 5xx, no response outside the documented schema."""

from __future__ import annotations

import time

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend import create_app
from backend import settings as app_settings
from backend.services.session import SessionService

pytestmark = pytest.mark.slow  # generates thousands of requests

CASES_PER_OPERATION = {GenerationMode.POSITIVE: 200, GenerationMode.NEGATIVE: 100}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TOKEN = "reliability-admin-token-0123456789"
EXISTING = ["existing", "other.session:1"]


def with_existing_sessions(strategy):
    """Half the cases aim a path's session_id at a session that exists (random ids are almost always 404)."""

    def aim(pair):
        case, existing = pair
        if existing is not None and case.path_parameters and "session_id" in case.path_parameters:
            case.path_parameters["session_id"] = existing
        return case

    return st.tuples(strategy, st.none() | st.sampled_from(EXISTING)).map(aim)


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(database_url, figures):
    """Every operation of /api/v1/openapi.json, positive and negative cases, against the WSGI app on this database."""
    app = create_app(
        app_settings.TestingConfig(
            DATABASE_URL=database_url, ADMIN_TOKEN=TOKEN, CORS_ORIGINS=(), CHAT_AGENT=None, CHAT_AGENT_URL=None
        )
    )
    service = SessionService(database_url)
    for sid in EXISTING:
        service.get_or_create_session(sid)
        service.save_message(sid, "user", "hello")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    tried: dict[str, int] = {}
    statuses: dict[int, int] = {}
    unsatisfiable: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, count in CASES_PER_OPERATION.items():
            label = f"{operation.label} {mode.value}"
            tried[label] = 0

            @given(case=with_existing_sessions(operation.as_strategy(generation_mode=mode)))
            @settings(
                max_examples=count,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                headers = {"Authorization": f"Bearer {TOKEN}"} if operation.path == "/api/v1/sessions" else None
                response = case.call(headers=headers)
                tried[label] += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to negate (no parameters, no body): /healthz, /readyz, the document itself.
                assert mode is GenerationMode.NEGATIVE and tried[label] == 0, label
                unsatisfiable.append(label)
    figures.update(
        operations=len({label.rsplit(" ", 1)[0] for label in tried}),
        cases_tried=sum(tried.values()),
        responses_5xx=sum(n for code, n in statuses.items() if code >= 500),
        statuses=dict(sorted(statuses.items())),
        without_negative_cases=unsatisfiable,
        seconds=round(time.monotonic() - started, 1),
        hypothesis=hypothesis.__version__,
        schemathesis=schemathesis.SCHEMATHESIS_VERSION,
    )
    assert not [code for code in statuses if code >= 500]
