"""Response dumping compiled from the marshmallow schemas, for the routes on every conversation turn.

Measured: marshmallow's generic dump of a 50-message history page took ~45% of the request
(per-field lookups and nested-schema calls, ~4 us a field). The schema still defines the shape;
this walks its declared fields once and builds a plain function that produces the same dict
(tests/api/test_compiled_dump.py compares the two on generated schemas and data). A field type
or option it does not know leaves the schema on marshmallow's own dump.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields

_MISSING = object()
_DUMP_HOOKS = ("pre_dump", "post_dump")


def _converter(field: fields.Field) -> Callable[[Any], Any] | None:
    kind = type(field)
    if kind is fields.Integer and not field.as_string:
        return int
    if kind is fields.String:
        return str
    if kind is fields.Boolean:
        return bool
    if kind is fields.DateTime and field.format == "iso":
        return lambda value: value.isoformat()
    if kind is fields.Dict and type(field.key_field) is fields.String and field.value_field is None:
        return lambda value: {str(k): v for k, v in value.items()}
    if kind is fields.Nested and isinstance(field.schema, ma.Schema) and not field.many:
        return compile_dumper(field.schema)
    if kind is fields.List and type(field.inner) is fields.Nested and not field.inner.many:
        item = compile_dumper(field.inner.schema)
        return None if item is None else (lambda values: [item(v) for v in values])
    return None


def _default(field: fields.Field) -> Any:
    default = field.dump_default
    if default is ma.missing:
        return _MISSING
    return default  # a callable is called at each dump, as marshmallow does


def compile_dumper(schema: ma.Schema) -> Callable[[Any], dict] | None:
    """A function dumping one object as `schema.dump` would; None when a field or option is not supported."""
    if any(schema._hooks.get(hook) for hook in _DUMP_HOOKS):  # dump hooks run only in marshmallow's own dump
        return None
    plan = []
    for name, field in schema.dump_fields.items():
        convert = _converter(field)
        attribute = field.attribute or name
        if convert is None or "." in attribute:  # a dotted attribute is a path marshmallow walks
            return None
        plan.append((field.data_key or name, attribute, convert, _default(field)))

    def dump(obj: Any) -> dict:
        result = {}
        source = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
        for key, attribute, convert, default in plan:
            value = source.get(attribute, _MISSING) if source is not None else getattr(obj, attribute, _MISSING)
            if value is _MISSING:
                if default is _MISSING:
                    continue
                value = default() if callable(default) else default
            result[key] = None if value is None else convert(value)
        return result

    return dump


class CompiledDumpMixin:
    """Schema mixin: dump through the compiled function when the schema allows it."""

    def dump(self, obj, *, many: bool | None = None):
        many = self.many if many is None else many
        dumper = self.__dict__.get("_compiled_dumper", _MISSING)
        if dumper is _MISSING:
            dumper = self.__dict__["_compiled_dumper"] = compile_dumper(self)
        if dumper is None:
            return super().dump(obj, many=many)
        return [dumper(item) for item in obj] if many else dumper(obj)
