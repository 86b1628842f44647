"""
schemathesis hooks for scripts/check-openapi-contract.ts (loaded through SCHEMATHESIS_HOOKS).

The built-in positive_data_acceptance check fails on any 4xx but 401, 403, 404, 409 and 429 to a
schema-valid request. A few refusals of the example APIs are intended and depend on what the run sent
before, which the OpenAPI document cannot say (the worker template's refusals are here too). This file replaces the check (the script excludes the
built-in and runs this one) with one that calls the built-in and forgives exactly those refusals, and
only when this run's own earlier requests explain them; any other refusal fails as before.
"""

import json
import re
from urllib.parse import urlsplit

import schemathesis
from schemathesis.specs.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance as builtin_positive_data_acceptance

# Idempotency-Key (normalized) -> the (path, body bytes) pairs this run sent with it.
_sent_with_key: dict[str, set[tuple[str, bytes]]] = {}
# The skus a ListProduct of this run listed (answered 2xx).
_listed_skus: set[str] = set()
# The (listId, todoId) pairs an AddTodo of this run added (answered 2xx), listId upper-cased as the template keys it.
_added_todos: set[tuple[str, int]] = set()


@schemathesis.check
def positive_data_acceptance_with_known_refusals(ctx, response, case):
    request = _request_of(response)
    try:
        builtin_positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if not (
            _is_key_reused_for_another_request(request, response)
            or _is_refused_for_sku_state(request, response)
            or _is_unknown_todo(request, response)
        ):
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


def _json_object_of(response):
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
    problem = _json_object_of(response)
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
    problem = _json_object_of(response)
    sku = _sku_of(request)
    if problem is None or sku is None or problem.get("code") != "VALIDATION_FAILED":
        return False
    expected = [{"path": ["sku"], "message": template.format(sku=sku)}]
    return problem.get("issues") == expected and (sku in _listed_skus) == must_be_listed


def _sku_of(request):
    sku = _body_of(request).get("sku")
    return sku if isinstance(sku, str) else None


def _body_of(request):
    try:
        body = json.loads(request["body"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _todo_of(request):
    """(listId upper-cased, todoId) of an AddTodo or CompleteTodo body, or None."""
    body = _body_of(request)
    list_id, todo_id = body.get("listId"), _number(body.get("todoId"))
    return None if not isinstance(list_id, str) or todo_id is None else (list_id.upper(), todo_id)


def _number(value):
    # The Worker reads every JSON number as a double (5 and 5.0 are one to-do; a huge integer is rounded,
    # 1.2345678901234568e+22 in its messages): compared as doubles here too.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _is_unknown_todo(request, response):
    """
    The worker template's CompleteTodo of a to-do its list does not have (worker-template/src/todo-list.ts):
    a rule of the domain, 400 like any ValidationError, as the template's README says. Forgiven only with
    exactly that one issue at ["todoId"] naming the request's to-do, when no AddTodo of this run added it.
    """
    if response.status_code != 400 or not request["path"].endswith("/commands/CompleteTodo"):
        return False
    problem = _json_object_of(response)
    todo = _todo_of(request)
    if problem is None or todo is None or problem.get("code") != "VALIDATION_FAILED":
        return False
    issues = problem.get("issues")
    if not isinstance(issues, list) or len(issues) != 1 or not isinstance(issues[0], dict):
        return False
    message = issues[0].get("message")
    named = re.fullmatch(r"the list has no to-do (\S+)", message) if isinstance(message, str) else None
    return (
        issues[0].get("path") == ["todoId"]
        and named is not None
        and _number_in_message(named[1]) == todo[1]
        and todo not in _added_todos
    )


def _number_in_message(text):
    try:
        return float(text)
    except ValueError:
        return None


def _remember(request, response):
    if request["key"] is not None:
        _sent_with_key.setdefault(request["key"], set()).add((request["path"], request["body"]))
    if 200 <= response.status_code < 300 and request["path"].endswith("/commands/ListProduct"):
        sku = _sku_of(request)
        if sku is not None:
            _listed_skus.add(sku)
    if 200 <= response.status_code < 300 and request["path"].endswith("/commands/AddTodo"):
        _remember_added_todo(request, response)


def _remember_added_todo(request, response):
    list_id = _body_of(request).get("listId")
    result = _json_object_of(response)
    todo_id = _number(result.get("todoId")) if result is not None else None
    if isinstance(list_id, str) and todo_id is not None:
        _added_todos.add((list_id.upper(), todo_id))
