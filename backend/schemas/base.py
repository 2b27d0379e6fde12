"""Common base: schemas check shape (types of query values, required and unknown fields) and run the
service's own value rules, so that one 422 names every offending field with the service's words."""

from __future__ import annotations

from typing import Any, ClassVar

import flask
import marshmallow as ma
from marshmallow import fields
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

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

    def load_as_sent(self, data: Any) -> dict | None:
        """`data` loaded in one pass, when it is an object of the fields this schema can load so (taken as sent,
        or strings), without a required one missing, and the schema's own checks (the service's rules among them)
        pass; None otherwise, and marshmallow's load then names every problem in its words.

        The same result as `load` for such a body (tests/api/test_one_pass_loads.py): marshmallow's generic load
        of a message was 5% of a POST's instructions, for a dict that comes out as it went in."""
        plan = self.__dict__.get("_one_pass", False)
        if plan is False:
            plan = self.__dict__["_one_pass"] = _one_pass_plan(self)
        if plan is None or type(data) is not dict:
            return None
        known, fields_, validators = plan
        if not data.keys() <= known:
            return None
        loaded = {}
        try:
            for name, is_string, default, required, field_validators in fields_:  # in marshmallow's order
                value = data.get(name, ma.missing)
                if value is ma.missing:
                    if required:
                        return None
                    if default is ma.missing:
                        continue
                    loaded[name] = default() if callable(default) else default
                    continue
                if is_string and type(value) is not str:
                    return None
                for validator in field_validators:
                    validator(value)
                loaded[name] = value
            for validator in validators:
                getattr(self, validator)(loaded, partial=None, many=False, unknown=ma.RAISE)
        except ma.ValidationError:
            return None
        return loaded


def _one_pass_plan(schema: StrictSchema) -> tuple[frozenset, tuple, tuple[str, ...]] | None:
    """What load_as_sent needs of a schema: the names it may load, each field's (name, is a string, default,
    required, validators) in order, the schema validators; None when a field or hook needs marshmallow."""
    hooks = schema._hooks
    if hooks[PRE_LOAD] or hooks[POST_LOAD] or hooks[VALIDATES] or schema.many or schema.partial:
        return None
    validators = hooks[VALIDATES_SCHEMA]
    if any(many or kwargs.get("pass_original") for _, many, kwargs in validators):
        return None
    plan, known = [], set()
    for name, field in schema.load_fields.items():
        if field.data_key:
            return None
        simple = isinstance(field, _AsSent) or (type(field) is fields.String and not field.allow_none)
        if simple:
            known.add(name)
        elif field.required or field.load_default is not ma.missing:
            return None
        else:
            continue  # a field the one pass does not load: a body that sends it goes to marshmallow
        is_string = not isinstance(field, _AsSent)
        plan.append((name, is_string, field.load_default, field.required, tuple(field.validators)))
    if not known:
        return None
    return frozenset(known), tuple(plan), tuple(name for name, _, _ in validators)


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
