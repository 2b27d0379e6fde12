"""Response dumping compiled from the marshmallow schemas, for the routes on every conversation turn.

Measured: marshmallow's generic dump of a 50-message history page took ~45% of the request
(per-field lookups and nested-schema calls, ~4 us a field). The schema still defines the shape;
this walks its declared fields once and builds a plain function that produces the same dict
(tests/api/test_compiled_dump.py compares the two on generated schemas and data). A field type
or option it does not know leaves the schema on marshmallow's own dump.

What a compiled dump produces is also written as JSON by orjson (`CompiledDumpMixin.json_answer`): a page of 50
messages took 829k instructions to encode with the standard library as Flask calls it, 109k with orjson, for the
same bytes. Only where the bytes are the same: orjson writes some floats differently (`0.00001` against
`1e-05`) and NaN as `null`, and knows nothing of what Flask's encoder adds. A compiled dump's values are the
strings, integers, booleans and None its converters make, except in a free-form object (a Dict field such as
metadata); one that holds anything else is dumped as a `FreeForm`, which orjson refuses, and the answer is the
standard library's (tests/api/test_compiled_json.py holds the two to the same bytes).

For orjson the dump of a record converts nothing it need not: a value already of its field's type is handed over
as it is, a UTC datetime included (orjson writes it as `isoformat` does) and a free-form object of plain values, so
that a history page is neither formatted twice nor copied (50 messages: 4.16M -> 3.53M instructions a request).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
import orjson
from marshmallow import fields

_MISSING = object()
_DUMP_HOOKS = ("pre_dump", "post_dump")
_PLAIN_LEAVES = frozenset((str, int, bool, type(None)))
# Sorted keys, as Flask's encoder sorts them; any subclass or dataclass refused (a FreeForm among them). The only
# datetimes a dump for orjson holds are UTC ones a record's datetime field hands over as they are.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
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


def _plain_object(value: Any) -> bool:
    """Whether a free-form value is a dict orjson writes as Flask's encoder does, as it is (keys aside: orjson
    refuses a key that is not a string, and the answer is then Flask's)."""
    return value.__class__ is dict and (not value or plain_json(value))


def _free_form(value: dict) -> dict:
    converted = {str(k): v for k, v in value.items()}
    return converted if _plain_object(converted) else FreeForm(converted)


# How a converter reads in generated code: a value of the field's own type passes as it is (int(5) is 5, at the cost
# of a call), anything else is converted as marshmallow converts it.
_INLINE = {
    int: "({v} if {v}.__class__ is int else int({v}))",
    str: "({v} if {v}.__class__ is str else str({v}))",
    bool: "({v} if {v}.__class__ is bool else bool({v}))",
}
_ISO = "{v}.isoformat()"
# When a dump for orjson may hand a value over as it is: orjson then writes what Flask's encoder writes of the
# converted value (a UTC datetime as its isoformat, tests/api/test_compiled_json.py).
_AS_IS = {
    int: "{v}.__class__ is int",
    str: "{v}.__class__ is str",
    bool: "{v}.__class__ is bool",
    _ISO: "({v}.__class__ is datetime and {v}.tzinfo is UTC)",
    _free_form: "plain_object({v})",
}


@dataclasses.dataclass(frozen=True)
class _Conversion:
    convert: Callable[[Any], Any]
    inline: str | None = None  # how generated code writes it (None: a call of convert)
    as_is: str | None = None  # when a dump for orjson hands the value over unconverted (None: never)


def _converter(field: fields.Field, for_json: bool) -> _Conversion | None:
    """How a field's value is converted; None when the field is not supported."""
    kind = type(field)
    if kind is fields.Integer and not field.as_string:
        return _Conversion(int, _INLINE[int], _AS_IS[int])
    if kind is fields.String:
        return _Conversion(str, _INLINE[str], _AS_IS[str])
    if kind is fields.Boolean:
        return _Conversion(bool, _INLINE[bool], _AS_IS[bool])
    if kind is fields.DateTime and field.format == "iso":
        return _Conversion(lambda value: value.isoformat(), _ISO, _AS_IS[_ISO])
    if kind is fields.Dict and type(field.key_field) is fields.String and field.value_field is None:
        return _Conversion(_free_form, None, _AS_IS[_free_form])
    if kind is fields.Nested and isinstance(field.schema, ma.Schema) and not field.many:
        nested = compile_dumper(field.schema, for_json)
        return None if nested is None else _Conversion(nested)
    if kind is fields.List and type(field.inner) is fields.Nested and not field.inner.many:
        item = compile_dumper(field.inner.schema, for_json)
        return None if item is None else _Conversion(lambda values: [item(v) for v in values])
    return None


def _default(field: fields.Field) -> Any:
    default = field.dump_default
    if default is ma.missing:
        return _MISSING
    return default  # a callable is called at each dump, as marshmallow does


def compile_dumper(schema: ma.Schema, for_json: bool = False) -> Callable[[Any], dict] | None:
    """A function dumping one object as `schema.dump` would; None when a field or option is not supported.

    `for_json`: the dump is for orjson (CompiledDumpMixin.json_answer), whose bytes of it are those Flask's encoder
    writes of `schema.dump`'s: a record's values of their field's type are handed over unconverted."""
    if any(schema._hooks.get(hook) for hook in _DUMP_HOOKS):  # dump hooks run only in marshmallow's own dump
        return None
    plan = []
    for name, field in schema.dump_fields.items():
        conversion = _converter(field, for_json)
        attribute = field.attribute or name
        if conversion is None or "." in attribute:  # a dotted attribute is a path marshmallow walks
            return None
        plan.append((field.data_key or name, attribute, conversion, _default(field)))

    def dump_any(obj: Any) -> dict:
        result = {}
        source = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
        for key, attribute, conversion, default in plan:
            value = source.get(attribute, _MISSING) if source is not None else getattr(obj, attribute, _MISSING)
            if value is _MISSING:
                if default is _MISSING:
                    continue
                value = default() if callable(default) else default
            result[key] = None if value is None else conversion.convert(value)
        return result

    if not all(attribute.isidentifier() for _, attribute, *_ in plan):
        return dump_any
    by_class: dict[type, Callable[[Any], dict]] = {}

    def dump(obj: Any) -> dict:
        dump_one = by_class.get(obj.__class__)
        if dump_one is None:
            dump_one = by_class[obj.__class__] = _for_records_of(obj.__class__, plan, for_json) or dump_any
        return dump_one(obj)

    return dump


def _for_records_of(record_type: type, plan: list, for_json: bool) -> Callable[[Any], dict] | None:
    """The plan written out for one dataclass: its attributes read by name into one dict display, no loop and no
    call per field (a page of 50 messages: 340,000 fewer instructions a request than the loop); a field it lacks
    dumps its default or nothing, as marshmallow does. For orjson, a first display hands every value over as it
    is, when each is of its field's type. None for anything but a dataclass."""
    if not dataclasses.is_dataclass(record_type):
        return None
    # Its fields, and what its class answers (a property, such as a search hit's session_id).
    attributes = {field.name for field in dataclasses.fields(record_type)} | set(dir(record_type))
    namespace: dict[str, Any] = {"datetime": datetime, "UTC": UTC, "plain_object": _plain_object}
    reads, converted, as_is, checks = [], [], [], []
    for index, (key, attribute, conversion, default) in enumerate(plan):
        value = f"v{index}"
        namespace[f"convert_{index}"] = conversion.convert
        if attribute in attributes:
            reads.append(f"    {value} = obj.{attribute}")
        elif default is _MISSING:
            continue
        else:
            namespace[f"default_{index}"] = default
            reads.append(f"    {value} = default_{index}()" if callable(default) else f"    {value} = default_{index}")
        expression = f"None if {value} is None else " + (conversion.inline or f"convert_{index}({{v}})").format(v=value)
        converted.append(f"{key!r}: {expression}")
        if conversion.as_is is None:
            as_is.append(f"{key!r}: {expression}")
        else:
            as_is.append(f"{key!r}: {value}")
            checks.append(f"({value} is None or {conversion.as_is.format(v=value)})")
    lines = ["def dump(obj):", *reads]
    if for_json and checks:
        lines += [f"    if {' and '.join(checks)}:", "        return {" + ", ".join(as_is) + "}"]
    lines.append("    return {" + ", ".join(converted) + "}")
    kind = "dump for orjson" if for_json else "dump"
    exec(compile("\n".join(lines), f"<{kind} of {record_type.__name__}>", "exec"), namespace)  # noqa: S102 - checked
    return namespace["dump"]


class CompiledDumpMixin:
    """Schema mixin: dump through the compiled function when the schema allows it, and write JSON with orjson."""

    def _compiled(self, for_json: bool) -> Callable[[Any], dict] | None:
        name = "_compiled_json_dumper" if for_json else "_compiled_dumper"
        dumper = self.__dict__.get(name, _MISSING)
        if dumper is _MISSING:
            dumper = self.__dict__[name] = compile_dumper(self, for_json)
        return dumper

    def dump(self, obj, *, many: bool | None = None):
        many = self.many if many is None else many
        dumper = self._compiled(for_json=False)
        if dumper is None:
            return super().dump(obj, many=many)
        return [dumper(item) for item in obj] if many else dumper(obj)

    def json_dump(self, obj) -> Any:
        """What orjson writes for `obj` (see json_answer); None when this schema's dump is not compiled."""
        dumper = self._compiled(for_json=True)
        if dumper is None:
            return None
        return [dumper(item) for item in obj] if self.many else dumper(obj)

    def json_answer(self, obj) -> bytes | None:
        """`self.dump(obj)` as Flask's compact JSON answer (sorted keys, UTF-8 as it is, a newline at the end)
        written by orjson; None when the dump is not compiled or orjson's bytes could differ (then Flask's encoder
        writes the dump)."""
        dumped = self.json_dump(obj)
        if dumped is None:
            return None
        try:
            return orjson.dumps(dumped, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # a FreeForm, an integer past 64 bits, a lone surrogate, a key not a string
            return None
