"""The Blueprint every resource uses: flask-smorest's, with a JSON parser that survives hostile bodies."""

from __future__ import annotations

import functools
import inspect
import json
import typing

import flask
import flask_smorest
import marshmallow as ma
import werkzeug
from flask.views import MethodView
from flask_smorest.utils import set_status_and_headers_in_response, unpack_tuple_response
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wsgi import get_content_length

from backend.schemas.base import StrictSchema


class BodyParser(FlaskParser):
    """Reads a JSON body; nesting too deep for Python's json module is a 400 like any bad JSON. Headers a request
    does not send cost nothing."""

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        # The request object itself, not the context proxy: reading a body through the proxy looked the request
        # up about 20 times.
        request = req if req is not None else flask.request._get_current_object()
        # A headers schema (Idempotency-Key, If-Match, ...) loads {} when none of its headers is sent: no field has
        # a default and every rule checks a field that is present. Most requests send none: answered at once
        # instead of through webargs and marshmallow.
        if location == "headers" and isinstance(argmap, ma.Schema):
            keys = _header_keys(argmap)
            if keys is not None and not any(key in request.environ for key in keys):
                return {}
        # A body of known fields taken as sent (a message, a chat turn): parsed and checked in one pass; anything
        # else, or any problem, through webargs and marshmallow, which name it.
        if location == "json" and isinstance(argmap, StrictSchema):
            loaded = argmap.load_as_sent(self.load_json(request, argmap))
            if loaded is not None:
                return loaded
        # A query string of strings and integers (?limit=50), the same way.
        if location == "query" and isinstance(argmap, StrictSchema):
            loaded = argmap.load_query_as_sent(request.args)
            if loaded is not None:
                return loaded
        return super().parse(argmap, request, location=location, **kwargs)

    def load_json(self, req: flask.Request, schema) -> typing.Any:
        # webargs reads a body sent as text/plain or a form as "no body at all": a client that
        # forgot its Content-Type would then create an empty session. Say so instead.
        if not core.is_json(req.mimetype) and req.get_data(cache=True):
            flask.abort(415, "send the request body as JSON, with Content-Type: application/json")
        return super().load_json(req, schema)

    def _raw_load_json(self, req: flask.Request) -> typing.Any:
        _refuse_overlong_stream(req)
        try:
            body = super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own handling: an empty body is "missing", anything else a 400
        except RecursionError:
            # json.loads raises RecursionError (not JSONDecodeError) past ~1000 levels of nesting.
            self._handle_invalid_json_error(ValueError("JSON nested too deeply"), req)
        except ValueError:
            # ...and a plain ValueError for an integer literal over Python's 4300-digit limit.
            self._handle_invalid_json_error(ValueError("JSON number too long"), req)
        # The session a body names (chat, voice, a new session), noted as it is parsed, for the access line.
        if isinstance(body, dict) and isinstance(body.get("session_id"), str):
            req.session_store_body_session_id = body["session_id"][:256]
        return body


@functools.cache
def _header_keys(schema: ma.Schema) -> tuple[str, ...] | None:
    """Where the WSGI environ holds the headers a schema reads (as werkzeug's request.headers finds them: asked
    there, an absent header raised and caught a KeyError); None when one has a default, which an absent header would
    load."""
    if any(field.load_default is not ma.missing for field in schema.fields.values()):
        return None
    names = [(field.data_key or name).upper().replace("-", "_") for name, field in schema.fields.items()]
    return tuple(name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}" for name in names)


def _refuse_overlong_stream(req: flask.Request) -> None:
    """413 for a body sent without Content-Length (chunked) that is longer than MAX_CONTENT_LENGTH.

    Werkzeug stops reading such a stream at the limit and hands over the first
    MAX_CONTENT_LENGTH bytes as if they were the whole body: a 400 at best, a truncated body
    that happens to parse at worst.
    """
    # req.content_length's answer, from the environ: through the request's headers it raised and caught a KeyError.
    if get_content_length(req.environ) is not None:  # first: Flask's max_content_length looks the app up
        return
    limit = req.max_content_length
    if limit is None:
        return
    if len(req.get_data(cache=True)) >= limit and req.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


# flask-smorest's own preparation of a dump: the dump as it is (a Blueprint may wrap it in a structure).
_DUMP_AS_IT_IS = flask_smorest.Blueprint._prepare_response_content


def _json_answer(
    schema: ma.Schema | None, result: typing.Any, prepare: typing.Callable, status: int | str = 200
) -> flask.Response:
    """`result` dumped by `schema` and `prepare`d as flask.jsonify answers it, with `status`; written by orjson when
    the schema's dump is compiled, `prepare` answers the dump as it is, and the bytes are the same
    (backend.schemas.compiled)."""
    app = flask.current_app._get_current_object()
    provider = app.json
    compact = provider.compact is True or (provider.compact is None and not app.debug)
    plain = prepare is _DUMP_AS_IT_IS and isinstance(schema, StrictSchema)
    if plain and compact and provider.sort_keys and not provider.ensure_ascii:
        body = schema.json_answer(result)
        if body is not None:
            # Made with its status: a status set afterwards is parsed again (5k instructions of an append's answer).
            return app.response_class(body, status=status, mimetype=provider.mimetype)
    response = flask.jsonify(prepare(result if schema is None else schema.dump(result)))
    set_status_and_headers_in_response(response, status, None)
    return response


class Resource(MethodView):
    """A resource's MethodView: one instance serves every request (a resource keeps no state), not one per request."""

    init_every_request = False

    @classmethod
    def as_view(cls, name: str, *class_args: typing.Any, **class_kwargs: typing.Any) -> typing.Callable:
        """MethodView's view function, calling the one instance's dispatch_request itself: Flask's asks the app
        through its proxy whether dispatch_request is a coroutine function on every request (7k instructions), and
        this one never is (it hands the method's handler to that check)."""
        flasks = super().as_view(name, *class_args, **class_kwargs)
        if cls.init_every_request or cls.decorators or inspect.iscoroutinefunction(cls.dispatch_request):
            return flasks
        resource = cls(*class_args, **class_kwargs)

        def view(**kwargs: typing.Any) -> typing.Any:
            return resource.dispatch_request(**kwargs)

        view.__dict__.update(flasks.__dict__)  # view_class, methods, provide_automatic_options
        view.__name__, view.__doc__, view.__module__ = flasks.__name__, flasks.__doc__, flasks.__module__
        return view

    def dispatch_request(self, **kwargs: typing.Any) -> typing.Any:
        # MethodView's (the method's handler, GET's for a HEAD without its own), with the request and the app each
        # looked up once: an attribute read through their proxies costs 7k instructions (callgrind).
        method = flask.request._get_current_object().method
        handler = getattr(self, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:  # routing answers 405 first, unless the route allows more than the resource handles
            raise MethodNotAllowed(valid_methods=sorted(self.methods or ()))
        return flask.current_app._get_current_object().ensure_sync(handler)(**kwargs)


# Keywords of flask-smorest's `arguments` that only document; the others go to webargs' use_args.
_DOCUMENTING_ONLY = ("content_type", "required", "description", "example", "examples")


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with BodyParser, whose decorators document a view without adding a layer that runs
    on every request: flask-smorest wraps a view once per `arguments` and `alt_response`, in a function that only
    calls the next through the app's coroutine check (six layers on an append: 4% of its instructions)."""

    ARGUMENTS_PARSER = BodyParser()

    def arguments(self, schema, *, location="json", **kwargs):
        """flask-smorest's, with one schema instance for every request: given a class, webargs builds
        an instance per request (two per turn: 8% of a turn's instructions, measured with callgrind);
        loading keeps no state in it."""
        schema = schema() if isinstance(schema, type) else schema
        documenting = super().arguments(schema, location=location, **kwargs)
        parsing = self.ARGUMENTS_PARSER.use_args(
            schema, location=location, **{k: v for k, v in kwargs.items() if k not in _DOCUMENTING_ONLY}
        )

        def decorator(func):
            # flask-smorest's result is use_args(its documenting layer(func)): its documentation, on func itself.
            func._apidoc = documenting(func).__wrapped__._apidoc
            return parsing(func)

        return decorator

    def response(self, status_code, schema=None, **kwargs):
        """flask-smorest's, answering as its wrapper does (the view's result dumped by `schema`, as JSON, with the
        status and headers it returns) without the lookups this app does not need: the coroutine check (no view here
        is a coroutine: one that is keeps flask-smorest's wrapper) and the dump kept for flask-smorest's ETags (this
        app computes its own, backend.web.preconditions)."""
        schema = schema() if isinstance(schema, type) else schema
        documenting = super().response(status_code, schema, **kwargs)
        prepare = self._prepare_response_content

        def decorator(func):
            documented = documenting(func)
            if inspect.iscoroutinefunction(func):
                return documented

            @functools.wraps(func)
            def answer(*args, **kwargs):
                result, status, headers = unpack_tuple_response(func(*args, **kwargs))
                if isinstance(result, werkzeug.Response):
                    set_status_and_headers_in_response(result, status, headers)
                    return result
                response = _json_answer(schema, result, prepare, status_code if status is None else status)
                set_status_and_headers_in_response(response, None, headers)
                return response

            answer._apidoc = documented._apidoc
            return answer

        return decorator

    def alt_response(self, status_code, *args, **kwargs):
        """flask-smorest's documentation of another answer, kept on the view itself."""
        documenting = super().alt_response(status_code, *args, **kwargs)

        def decorator(func):
            func._apidoc = documenting(func)._apidoc
            return func

        return decorator
