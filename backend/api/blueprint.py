"""The Blueprint every resource uses: flask-smorest's, with a JSON parser that survives hostile bodies."""

from __future__ import annotations

import typing

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser


class BodyParser(FlaskParser):
    """Reads a JSON body; nesting too deep for Python's json module is a 400 like any bad JSON."""

    def _raw_load_json(self, req: flask.Request) -> typing.Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # json.loads raises RecursionError (not JSONDecodeError) past ~1000 levels of nesting.
            self._handle_invalid_json_error(ValueError("JSON nested too deeply"), req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with BodyParser."""

    ARGUMENTS_PARSER = BodyParser()
