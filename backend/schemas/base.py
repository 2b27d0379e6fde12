"""Common base: schemas check shape (types of query values, required and unknown fields) and run the
service's own value rules, so that one 422 names every offending field with the service's words."""

from __future__ import annotations

from typing import Any, ClassVar

import flask
import marshmallow as ma
from marshmallow import fields
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from werkzeug.datastructures import MultiDict

from backend.schemas.compiled import CompiledDumpMixin
from backend.services import validation
from backend.settings import Limits


def _limits() -> Limits:
    app = flask.current_app._get_current_object() if flask.has_app_context() else None
    extension = app.extensions.get("session_store") if app is not None else None
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
            plan = self.__dict__["_one_pass"] = _one_pass_plan(self, _body_field)
        if plan is None or type(data) is not dict or not data.keys() <= plan[0]:
            return None
        return self._load_in_one_pass(plan, data)

    def load_query_as_sent(self, args: MultiDict) -> dict | None:
        """A query string's arguments (`request.args`) loaded in one pass as webargs and marshmallow load them,
        when each is a field of this schema's that is a string or an integer and is sent once, and the schema's
        checks pass; None otherwise, and webargs and marshmallow then load it and name any problem.

        The same result (tests/api/test_one_pass_loads.py): their load of `?limit=50` was 186k of the 3.1M
        instructions of a history page."""
        plan = self.__dict__.get("_one_pass_query", False)
        if plan is False:
            plan = self.__dict__["_one_pass_query"] = _one_pass_plan(self, _query_field)
        if plan is None:
            return None
        known, data = plan[0], {}
        for name, values in args.lists():
            if name not in known or len(values) != 1:
                return None
            data[name] = values[0]
        return self._load_in_one_pass(plan, data)

    def _load_in_one_pass(self, plan: tuple, data: dict) -> dict | None:
        _, fields_, validators = plan
        loaded = {}
        try:
            for name, convert, default, required, field_validators in fields_:  # in marshmallow's order
                value = data.get(name, ma.missing)
                if value is ma.missing:
                    if required:
                        return None
                    if default is ma.missing:
                        continue
                    loaded[name] = default() if callable(default) else default
                    continue
                if convert is not None:
                    value = convert(value)
                for validator in field_validators:
                    validator(value)
                loaded[name] = value
            for validator in validators:
                getattr(self, validator)(loaded, partial=None, many=False, unknown=ma.RAISE)
        except (ma.ValidationError, ValueError):  # ValueError: a value of the wrong kind, which marshmallow names
            return None
        return loaded


def _a_string(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not a string")
    return value


_NOT_IN_ONE_PASS = object()


def _body_field(field: fields.Field) -> Any:
    """How a body's field loads in one pass: its conversion (None: taken as sent), or _NOT_IN_ONE_PASS."""
    if isinstance(field, _AsSent):
        return None
    if type(field) is fields.String and not field.allow_none:
        return _a_string
    return _NOT_IN_ONE_PASS


def _query_field(field: fields.Field) -> Any:
    """The same for a query string's argument, which arrives as text: a string as it is, an integer by int(), as
    marshmallow's Integer reads text."""
    if type(field) is fields.String:
        return None
    if type(field) is fields.Integer and not field.strict:
        return int
    return _NOT_IN_ONE_PASS


def _one_pass_plan(schema: StrictSchema, kind=_body_field) -> tuple[frozenset, tuple, tuple[str, ...]] | None:
    """What a load in one pass needs of a schema: the names it may load, each field's (name, conversion, default,
    required, validators) in order, the schema validators; None when a field or hook needs marshmallow. `kind`:
    which fields load so, and how (_body_field, _query_field)."""
    hooks = schema._hooks
    if hooks[PRE_LOAD] or hooks[POST_LOAD] or hooks[VALIDATES] or schema.many or schema.partial:
        return None
    validators = hooks[VALIDATES_SCHEMA]
    if any(many or kwargs.get("pass_original") for _, many, kwargs in validators):
        return None
    plan, known = [], set()
    for name, field in schema.load_fields.items():
        if field.data_key or field.attribute:  # a name on the wire or in the result that is not the field's
            return None
        conversion = kind(field)
        if conversion is not _NOT_IN_ONE_PASS:
            known.add(name)
        elif field.required or field.load_default is not ma.missing:
            return None
        else:
            continue  # a field the one pass does not load: a body that sends it goes to marshmallow
        plan.append((name, conversion, field.load_default, field.required, tuple(field.validators)))
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
