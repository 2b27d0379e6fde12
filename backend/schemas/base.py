"""Common base: schemas check shape (types of query values, required and unknown fields) and run the
service's own value rules, so that one 422 names every offending field with the service's words."""

from __future__ import annotations

from typing import ClassVar

import flask
import marshmallow as ma
from marshmallow import fields

from backend.schemas.compiled import CompiledDumpMixin
from backend.services import validation
from backend.settings import Limits


def _limits() -> Limits:
    extension = flask.current_app.extensions.get("session_store") if flask.has_app_context() else None
    return extension.config.LIMITS if extension is not None else Limits()


class StrictSchema(CompiledDumpMixin, ma.Schema):
    """Rejects unknown fields (422); RULES maps a field to the rule of validation.RULES its value must pass."""

    RULES: ClassVar[dict[str, str]] = {}

    class Meta:
        unknown = ma.RAISE

    @ma.validates_schema(skip_on_field_errors=False)
    def _apply_service_rules(self, data, **kwargs) -> None:
        problems = validation.Problems()
        limits = _limits()
        for field_name, rule in self.RULES.items():
            if field_name in data:
                validation.RULES[rule](problems, data[field_name], limits, field_name)
        if problems.errors:
            raise ma.ValidationError(problems.errors)


class _AsSent:
    """A field whose value reaches the service's rule as the client sent it (the rule checks its type)."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return value


class Text(_AsSent, fields.String):
    """A string, by the service's rule."""


class Object(_AsSent, fields.Dict):
    """A JSON object, by the service's rule."""


def timestamp(**kwargs) -> fields.DateTime:
    """An aware datetime dumped as ISO 8601 with its offset; null for an unreadable legacy value."""
    return fields.DateTime(format="iso", allow_none=True, **kwargs)


def json_object(**kwargs) -> fields.Dict:
    """A JSON object of any content, as responses carry it."""
    return fields.Dict(keys=fields.String(), **kwargs)


def page_limit(default: int = 50) -> fields.Integer:
    """How many items a page holds (the service's rule bounds it)."""
    return fields.Integer(load_default=default, metadata={"description": f"1 to {Limits.max_page} by default"})
