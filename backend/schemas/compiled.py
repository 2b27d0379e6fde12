"""Response dumping compiled from the marshmallow schemas, for the routes on every conversation turn.

Measured: marshmallow's generic dump of a 50-message history page took ~45% of the request
(per-field lookups and nested-schema calls, ~4 us a field). The schema still defines the shape;
this walks its declared fields once and builds a plain function that produces the same dict
(tests/api/test_compiled_dump.py compares the two on generated schemas and data). A field type
or option it does not know leaves the schema on marshmallow's own dump.

What a compiled dump produces is also written as JSON by orjson (`CompiledDumpMixin.json_of`): a page of 50
messages took 829k instructions to encode with the standard library as Flask calls it, 109k with orjson, for the
same bytes. Only where the bytes are the same: orjson writes some floats differently (`0.00001` against
`1e-05`) and NaN as `null`, and knows nothing of what Flask's encoder adds. A compiled dump's values are the
strings, integers, booleans and None its converters make, except in a free-form object (a Dict field such as
metadata); one that holds anything else is dumped as a `FreeForm`, which orjson refuses, and the answer is the
standard library's (tests/api/test_compiled_json.py holds the two to the same bytes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import marshmallow as ma
import orjson
from marshmallow import fields

_MISSING = object()
_DUMP_HOOKS = ("pre_dump", "post_dump")
_PLAIN_LEAVES = frozenset((str, int, bool, type(None)))
# Sorted keys, as Flask's encoder sorts them; any subclass, date or dataclass refused (a FreeForm among them).
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


class FreeForm(dict):
    """A free-form object holding something other than strings, integers, booleans, None, lists and objects (a
    float, say): written by the standard library's encoder, never by orjson."""


def plain_json(value: Any) -> bool:
    """Whether `value` is a tree of dicts, lists and tuples with only strings, integers, booleans and None in it."""
    pending = [value]
    take, add = pending.pop, pending.extend
    while pending:
        item = take()
        kind = type(item)
        if kind is dict:
            add(item.values())  # its keys: orjson refuses any that is not a string
        elif kind is list or kind is tuple:
            add(item)
        elif kind not in _PLAIN_LEAVES:
            return False
    return True


def _free_form(value: dict) -> dict:
    converted = {str(k): v for k, v in value.items()}
    return converted if not converted or plain_json(converted) else FreeForm(converted)


# How a converter reads in generated code: a value of the field's own type passes as it is (int(5) is 5, at the cost
# of a call), anything else is converted as marshmallow converts it.
_INLINE = {
    int: "({v} if {v}.__class__ is int else int({v}))",
    str: "({v} if {v}.__class__ is str else str({v}))",
    bool: "({v} if {v}.__class__ is bool else bool({v}))",
}
_ISO = "{v}.isoformat()"


def _converter(field: fields.Field) -> tuple[Callable[[Any], Any], str | None] | None:
    """The function converting a field's value, and how generated code writes it inline (None: a call)."""
    kind = type(field)
    if kind is fields.Integer and not field.as_string:
        return int, _INLINE[int]
    if kind is fields.String:
        return str, _INLINE[str]
    if kind is fields.Boolean:
        return bool, _INLINE[bool]
    if kind is fields.DateTime and field.format == "iso":
        return (lambda value: value.isoformat()), _ISO
    if kind is fields.Dict and type(field.key_field) is fields.String and field.value_field is None:
        return _free_form, None
    if kind is fields.Nested and isinstance(field.schema, ma.Schema) and not field.many:
        nested = compile_dumper(field.schema)
        return None if nested is None else (nested, None)
    if kind is fields.List and type(field.inner) is fields.Nested and not field.inner.many:
        item = compile_dumper(field.inner.schema)
        return None if item is None else ((lambda values: [item(v) for v in values]), None)
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
        converter = _converter(field)
        attribute = field.attribute or name
        if converter is None or "." in attribute:  # a dotted attribute is a path marshmallow walks
            return None
        plan.append((field.data_key or name, attribute, *converter, _default(field)))

    def dump_any(obj: Any) -> dict:
        result = {}
        source = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
        for key, attribute, convert, _inline, default in plan:
            value = source.get(attribute, _MISSING) if source is not None else getattr(obj, attribute, _MISSING)
            if value is _MISSING:
                if default is _MISSING:
                    continue
                value = default() if callable(default) else default
            result[key] = None if value is None else convert(value)
        return result

    if not all(attribute.isidentifier() for _, attribute, *_ in plan):
        return dump_any
    by_class: dict[type, Callable[[Any], dict]] = {}

    def dump(obj: Any) -> dict:
        dump_one = by_class.get(obj.__class__)
        if dump_one is None:
            dump_one = by_class[obj.__class__] = _for_records_of(obj.__class__, plan) or dump_any
        return dump_one(obj)

    return dump


def _for_records_of(record_type: type, plan: list) -> Callable[[Any], dict] | None:
    """The plan written out for one dataclass: its attributes read by name into one dict display, no loop and no
    call per field (a page of 50 messages: 340,000 fewer instructions a request than the loop); a field it lacks
    dumps its default or nothing, as marshmallow does. None for anything but a dataclass."""
    if not dataclasses.is_dataclass(record_type):
        return None
    # Its fields, and what its class answers (a property, such as a search hit's session_id).
    attributes = {field.name for field in dataclasses.fields(record_type)} | set(dir(record_type))
    namespace: dict[str, Any] = {}
    reads, items = [], []
    for index, (key, attribute, convert, inline, default) in enumerate(plan):
        value = f"v{index}"
        namespace[f"convert_{index}"] = convert
        if attribute in attributes:
            reads.append(f"    {value} = obj.{attribute}")
        elif default is _MISSING:
            continue
        else:
            namespace[f"default_{index}"] = default
            reads.append(f"    {value} = default_{index}()" if callable(default) else f"    {value} = default_{index}")
        expression = (inline or f"convert_{index}({{v}})").format(v=value)
        items.append(f"{key!r}: None if {value} is None else {expression}")
    source = "\n".join(["def dump(obj):", *reads, "    return {" + ", ".join(items) + "}"])
    exec(compile(source, f"<dump of {record_type.__name__}>", "exec"), namespace)  # noqa: S102 - checked names
    return namespace["dump"]


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

    def json_of(self, dumped: Any) -> bytes | None:
        """`dumped`, what this schema's dump returned, as Flask's compact JSON answer (sorted keys, UTF-8 as it is,
        a newline at the end) written by orjson; None when the dump was not compiled or orjson's bytes could
        differ (then Flask's encoder writes it)."""
        if self.__dict__.get("_compiled_dumper") is None:
            return None
        try:
            return orjson.dumps(dumped, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # a FreeForm, an integer past 64 bits, a lone surrogate
            return None
