"""
schemathesis hooks for scripts/check-openapi-contract.ts (loaded through SCHEMATHESIS_HOOKS).

The built-in positive_data_acceptance check fails on any 4xx but 401, 403, 404, 409 and 429 to a
schema-valid request. A few refusals of the example APIs are intended and depend on what the run sent
before, which the OpenAPI document cannot say. This file replaces the check (the script excludes the
built-in and runs this one) with one that calls the built-in and forgives exactly those refusals, and
only when this run's own earlier requests explain them; any other refusal fails as before.
"""

import json
from urllib.parse import urlsplit

import schemathesis
from schemathesis.specs.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance as builtin_positive_data_acceptance

# Idempotency-Key (normalized) -> the (path, body bytes) pairs this run sent with it.
_sent_with_key: dict[str, set[tuple[str, bytes]]] = {}
# The skus a ListProduct of this run listed (answered 2xx).
_listed_skus: set[str] = set()


@schemathesis.check
def positive_data_acceptance_with_known_refusals(ctx, response, case):
    request = _request_of(response)
    try:
        builtin_positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if not (_is_key_reused_for_another_request(request, response) or _is_refused_for_sku_state(request, response)):
            raise
    finally:
        _remember(request, response)
    return None


def _request_of(response):
    prepared = response.request
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    key = prepared.headers.get("Idempotency-Key")
    return {"path": urlsplit(prepared.url).path, "body": body, "key": _normalized_key(key)}


def _normalized_key(key):
    # The routes take a key plain or in double quotes (RFC 8941 string form) as the same key.
    if key is None:
        return None
    return key[1:-1] if len(key) >= 2 and key.startswith('"') and key.endswith('"') else key


def _problem_of(response):
    try:
        body = response.json()
    except Exception:
        return None
    return body if isinstance(body, dict) else None


def _is_key_reused_for_another_request(request, response):
    """
    422 IDEMPOTENCY_KEY_REUSED: the IETF idempotency-key draft's answer to a key reused with another
    request. schemathesis reuses generated header values across cases, so the run meets it; it is
    forgiven only when this run did send the key before with another command or other body bytes.
    """
    if response.status_code != 422 or request["key"] is None:
        return False
    problem = _problem_of(response)
    if problem is None or problem.get("code") != "IDEMPOTENCY_KEY_REUSED":
        return False
    this = (request["path"], request["body"])
    return any(sent != this for sent in _sent_with_key.get(request["key"], set()))


# The shop's refusals for the state a sku is in (examples/ecommerce): rules of the example's domain, which
# the library answers as any ValidationError, 400. Per command: the one issue's message, and whether the
# sku must have been listed by this run (ListProduct: "listed already") or must not (PlaceOrder: an order
# for a product nobody listed is "Invalid order", the example's choice over 404).
_SKU_REFUSALS = {
    "ListProduct": ("product {sku} is listed already", True),
    "PlaceOrder": ("no product {sku}", False),
}


def _is_refused_for_sku_state(request, response):
    """
    Forgiven only with exactly that one issue at ["sku"], naming the request's sku, when what this run
    listed agrees with the refusal.
    """
    command = request["path"].rsplit("/commands/", 1)[-1] if "/commands/" in request["path"] else None
    if response.status_code != 400 or command not in _SKU_REFUSALS:
        return False
    template, must_be_listed = _SKU_REFUSALS[command]
    problem = _problem_of(response)
    sku = _sku_of(request)
    if problem is None or sku is None or problem.get("code") != "VALIDATION_FAILED":
        return False
    expected = [{"path": ["sku"], "message": template.format(sku=sku)}]
    return problem.get("issues") == expected and (sku in _listed_skus) == must_be_listed


def _sku_of(request):
    try:
        body = json.loads(request["body"])
    except ValueError:
        return None
    sku = body.get("sku") if isinstance(body, dict) else None
    return sku if isinstance(sku, str) else None


def _remember(request, response):
    if request["key"] is not None:
        _sent_with_key.setdefault(request["key"], set()).add((request["path"], request["body"]))
    if 200 <= response.status_code < 300 and request["path"].endswith("/commands/ListProduct"):
        sku = _sku_of(request)
        if sku is not None:
            _listed_skus.add(sku)
