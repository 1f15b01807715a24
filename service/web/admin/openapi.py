"""GET /admin/openapi.json: the admin API described in OpenAPI 3, built from its own routes and input schemas.

Paths come from Flask's URL map (every /admin route, so none is forgotten), summaries from the views'
docstrings, request bodies from the marshmallow schemas the routes load, and every answer from the one
JSON shape (service/web/json_api.py).
"""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from service.web.admin import bp, schemas
from service.web.json_api import ok

# (endpoint, method) → the schema its body is loaded with; many=True where the body is a list of them.
BODIES = {
    ("admin.create_store", "POST"): ("StoreCreate", False),
    ("admin.update_store", "PATCH"): ("StoreUpdate", False),
    ("admin.put_mappings", "PUT"): ("SkuMapping", True),
    ("admin.delete_mapping", "DELETE"): ("SkuMappingKey", False),
    ("admin.put_rules", "PUT"): ("ShippingRule", True),
    ("admin.put_rates", "PUT"): ("ExchangeRate", True),
    ("admin.acknowledge_order_route", "POST"): ("Acknowledge", False),
}
SCHEMAS = {"StoreCreate": schemas.StoreCreateSchema, "StoreUpdate": schemas.StoreUpdateSchema,
           "SkuMapping": schemas.SkuMappingSchema, "SkuMappingKey": schemas.SkuMappingKeySchema,
           "ShippingRule": schemas.ShippingRuleSchema, "Acknowledge": schemas.AcknowledgeSchema,
           "ExchangeRate": schemas.ExchangeRateSchema}
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def build_spec(app) -> dict:
    spec = APISpec(title="CJ Bridge admin API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Every request needs Authorization: Bearer <ADMIN_TOKEN>. Answers are "
                                        "{\"success\": true, \"data\": …} or {\"success\": false, \"error\": "
                                        "{\"code\", \"message\", \"details\"}}."})
    spec.components.security_scheme("adminToken", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.schema("Answer", {"type": "object", "properties": {
        "success": {"type": "boolean"}, "data": {}}, "required": ["success"]})
    spec.components.schema("Error", {"type": "object", "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                                    "details": {}}, "required": ["code", "message"]}}})
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("admin."):
            continue
        path = _CONVERTER.sub(r"{\2}", rule.rule)
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer" if converter == "int" else "string"}}
                      for converter, name in _CONVERTER.findall(rule.rule)]
        view = app.view_functions[rule.endpoint]
        summary = ((view.__doc__ or "").strip().splitlines() or [rule.endpoint])[0]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = {"operationId": f"{rule.endpoint.split('.', 1)[1]}_{method.lower()}", "summary": summary,
                         "security": [{"adminToken": []}], "parameters": parameters,
                         "responses": {"200": _answer("success"), "400": _error("bad input"),
                                       "401": _error("no or wrong admin token"), "404": _error("not found")}}
            body = BODIES.get((rule.endpoint, method))
            if body:
                ref = {"$ref": f"#/components/schemas/{body[0]}"}
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"type": "array", "items": ref} if body[1] else ref}}}
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _numeric_bounds(spec.to_dict())


def _numeric_bounds(node):
    """A Decimal bound (Range(min=Decimal("0"))) comes out as the string '0'; OpenAPI wants a number."""
    if isinstance(node, dict):
        return {k: float(v) if k in ("minimum", "maximum") and isinstance(v, str) else _numeric_bounds(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_numeric_bounds(v) for v in node]
    return node


def _answer(text: str) -> dict:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}}


def _error(text: str) -> dict:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@bp.get("/openapi.json")
def openapi_document():
    """This document: the admin API in OpenAPI 3."""
    return ok(build_spec(current_app))
