"""A standing fuzz of the public API from its own OpenAPI document, against the real gunicorn.

schemathesis reads ``/api/openapi.json`` from the live server (the tiny demo), generates valid
and invalid requests for every operation (boundary values, wrong types, NUL bytes, huge numbers,
unexpected methods) and fails on any 5xx, on a status code, content type or body the document
does not declare, and on a 405 without ``Allow``. Why: a 500 on bad input (a bigint offset, a NUL
in a filter) is a bug that leaks a stack trace into the logs and ties up a thread, and a document
that disagrees with the server breaks every generated client.

Bounded for a 2-core machine: a few examples per operation, derandomized (a fixed seed, so a
failure found once is found again), no shrinking; about a minute against the tiny demo.
"""

from __future__ import annotations

import json
import unicodedata
import urllib.request

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from planning_gis.web.openapi import build_spec

pytestmark = pytest.mark.db

#: Examples per operation in the fuzzing phase (the coverage phase adds its boundary cases).
MAX_EXAMPLES = 12

CONFIG = {
    "seed": 12,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True,
                   "no-shrink": True, "database": "none", "allow-x00": True},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True, "unexpected-methods": ["DELETE", "PUT", "PATCH"]},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "unsupported_method": {"enabled": True},
    },
    "request-timeout": 30,
}


#: The document as the server builds it (one pytest item per operation needs it at collection
#: time); the test below checks that the live server serves exactly this document.
SPEC = build_spec("http://127.0.0.1")
schema = schemathesis.openapi.from_dict(SPEC, config=SchemathesisConfig.from_dict(CONFIG))


def test_fuzzed_document_is_the_served_one(live_server):
    with urllib.request.urlopen(f"{live_server}/api/openapi.json", timeout=10) as resp:
        served = json.load(resp)
    assert served["servers"] == [{"url": live_server}]
    assert {**served, "servers": SPEC["servers"]} == SPEC


#: Cases run by schemathesis in this session (the figure the report of issue 12 quotes).
RUN = {"cases": 0, "statuses": {}}


@pytest.fixture(scope="module", autouse=True)
def _report_counts(artifacts):
    yield
    (artifacts / "fuzz_openapi.json").write_text(json.dumps(RUN, indent=1, sort_keys=True))


@schema.parametrize()
def test_public_api_survives_fuzzing(case, live_server):
    response = case.call(base_url=live_server)
    RUN["cases"] += 1
    key = str(response.status_code)
    RUN["statuses"][key] = RUN["statuses"].get(key, 0) + 1
    case.validate_response(response)


#: Values that broke endpoints before issue 12 (bigint overflow, NUL, non-finite numbers,
#: decomposed Vietnamese...): random generation seldom produces them, so every parameter of
#: every operation gets each of them once.
HOSTILE = ["a\x00b", str(2**63), str(-(2**63) - 1), "99999999999999999999999", "NaN", "-Infinity",
           "1e400", unicodedata.normalize("NFD", "Phường Mẫu"), " ", "%", "../../etc/passwd"]
SMALL_PLOT = {"type": "Polygon", "coordinates": [[[105.8, 21.0], [105.801, 21.0],
                                                  [105.801, 21.001], [105.8, 21.0]]]}
STRICT_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                 response_schema_conformance]


def _sample(param: dict) -> object:
    s = param["schema"]
    if "enum" in s:
        return s["enum"][0]
    return {"integer": 1, "number": 1.5}.get(s.get("type"), "x")


def test_hostile_values_in_every_parameter(live_server):
    """Each hostile value in each path and query parameter: never a 5xx, always as documented."""
    failures = []
    sent = 0
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            operation = schema[path][method.upper()]
            base = {p["name"]: _sample(p) for p in op["parameters"] if p["in"] == "path"}
            body = SMALL_PLOT if "requestBody" in op else None
            for param in op["parameters"]:
                for value in HOSTILE:
                    path_params, query = dict(base), {}
                    if param["in"] == "path":
                        path_params[param["name"]] = value
                    else:
                        query[param["name"]] = value
                    kwargs = {"body": body, "media_type": "application/json"} if body else {}
                    case = operation.Case(path_parameters=path_params, query=query, **kwargs)
                    response = case.call(base_url=live_server)
                    sent += 1
                    try:
                        case.validate_response(response, checks=STRICT_CHECKS)
                    except BaseException as exc:  # noqa: B036 - schemathesis raises a group
                        failures.append(f"{method.upper()} {path} {param['name']}={value!r}: "
                                        f"{response.status_code} {str(exc).splitlines()[0]}")
    RUN["hostile_requests"] = sent
    assert not failures, "\n".join(failures)
