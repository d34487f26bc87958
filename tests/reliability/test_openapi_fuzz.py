"""schemathesis against the OpenAPI documents that a live controller and a live dispatcher
serve: no 500, every status, content type and body as documented, and invalid requests
(negative mode) refused.

The positive-data check is left out on purpose: the documents cannot say which broker types
are installed or which jobs exist, so a schema-valid request may rightly be a 400 or 404.
To reach past those answers, half of the positive requests are steered: the dispatcher's
onto a subscribed job, the controller's onto a valid embedded-broker queue config.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jobqueue.testing.processes import DevStack
from tests.e2e.conftest import DEV_ARGS, Api

EXAMPLES = 25
JOB = "fuzzed"
Tweak = Callable[[Any], Any]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = DevStack(tmp_path_factory.mktemp("fuzz"), *DEV_ARGS).start()
    api = Api(stack.controller_url, stack.dispatcher_url)
    api.create_job(JOB, {"type": "sqlite", "config": {"topic": JOB}})
    api.start_job(JOB)
    api.subscribe(JOB)
    api.close()
    yield stack
    code = stack.stop()
    log = stack.log()
    assert code == 0, log
    assert "unexpected error" not in log, log


def fuzz(url: str, modes: tuple[GenerationMode, ...], tweak: Tweak | None = None) -> list[str]:
    """Run every operation of the document at ``url``; returns the failures found."""
    schema = schemathesis.openapi.from_url(url)
    document = httpx.get(url).json()
    failures: list[str] = []
    seen: Counter[str] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{url}: {result}"
        operation = result.ok()
        raw = document["paths"][operation.path][operation.method.lower()]
        for mode in modes:
            if mode is GenerationMode.NEGATIVE and not (
                "parameters" in raw or "requestBody" in raw
            ):
                continue  # nothing to get wrong
            strategy = operation.as_strategy(generation_mode=mode)
            run = _hypothesis_test(
                operation.label, strategy.map(tweak) if tweak else strategy, seen
            )
            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode}]: {exc}")
    print(f"\n{url}: " + ", ".join(f"{k}: {v}" for k, v in sorted(seen.items())))
    return failures


def _hypothesis_test(label: str, strategy: Any, seen: Counter[str]) -> Callable[[], None]:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(strategy)
    def run(case: Any) -> None:
        response = case.call_and_validate(timeout=30, excluded_checks=[positive_data_acceptance])
        seen[f"{label} {response.status_code}"] += 1

    return run  # type: ignore[no-any-return]


def _ints(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; clients send 3, and so do these cases."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def _onto_the_job(case: Any) -> Any:
    """A worker request about the subscribed job (never unsubscribing it), waiting briefly."""
    if isinstance(case.body, dict) and "name" in case.body:
        case.body = _ints(case.body)
        if not case.path.endswith("/unsubscribe"):
            case.body["name"] = JOB
        if "max_wait_ms" in case.body:
            case.body["max_wait_ms"] = min(case.body["max_wait_ms"], 100)
    return case


def _valid_queue_config(case: Any) -> Any:
    """A create or update with an embedded-broker queue config the controller accepts."""
    if isinstance(case.body, dict):
        case.body = _ints(case.body)
        if "queue_config" in case.body:
            case.body["queue_config"] = {"type": "sqlite", "config": {"topic": "fuzz-topic"}}
            case.body["retry_config"] = {"backoffs": [100]}
    return case


BOTH = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
POSITIVE = (GenerationMode.POSITIVE,)


def test_controller_conforms_to_its_openapi_document(dev: DevStack) -> None:
    """Generated and steered requests to every controller operation: no failed check."""
    url = f"{dev.controller_url}/openapi.json"
    failures = fuzz(url, BOTH) + fuzz(url, POSITIVE, _valid_queue_config)
    assert not failures, "\n\n".join(failures)


def test_dispatcher_conforms_to_its_openapi_document(dev: DevStack) -> None:
    """Generated and steered requests to every worker operation: no failed check."""
    url = f"{dev.dispatcher_url}/openapi.json"
    failures = fuzz(url, BOTH) + fuzz(url, POSITIVE, _onto_the_job)
    assert not failures, "\n\n".join(failures)
