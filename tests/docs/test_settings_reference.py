"""docs/configuration.md's settings reference is generated from backend/settings.py, and every environment variable
the code reads is documented there."""

from __future__ import annotations

import re
import textwrap

import pytest

from backend.settings import PROJECT_ROOT
from backend.settings_reference import (
    BEGIN,
    END,
    Setting,
    generated_section,
    settings_in,
    settings_reference,
    with_reference,
)
from tests.docs.markdown import text_of

CONFIGURATION = "docs/configuration.md"
# A variable read by name: settings.py's readers, gunicorn's `number`, os.environ.
READ = re.compile(
    r"""(?:\b_int|\b_float|\b_text|\bnumber|\bos\.environ\.get|\bos\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|\bos\.environ\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]"""
)


def test_the_settings_reference_in_the_docs_is_what_settings_py_declares():
    assert generated_section(text_of(CONFIGURATION)) == settings_reference(), (
        "docs/configuration.md's settings reference is out of date: run `make docs`"
    )


def test_regenerating_keeps_the_prose_around_the_generated_section():
    document = text_of(CONFIGURATION)
    assert with_reference(document) == document
    stale = document.replace(generated_section(document), "| old | table |\n")
    assert with_reference(stale) == document


def test_every_setting_of_settings_py_has_a_default_and_a_description():
    source = (PROJECT_ROOT / "backend" / "settings.py").read_text(encoding="utf-8")
    settings = {setting.name: setting for setting in settings_in(source)}
    assert {"APP_ENV", "DATABASE_URL", "SESSION_DB_PATH", "MAX_CONTENT_CHARS", "AUTH_MODE", "CLIENT_TIMEOUT_S"} <= set(
        settings
    )
    assert settings["MAX_METADATA_BYTES"].default == "`16384`"  # 16 * 1024, through Limits' own default
    assert settings["IDEMPOTENCY_TTL_S"].default == "`86400`"
    assert settings["SQLITE_SYNCHRONOUS"].default == "`FULL`"  # os.environ.get(...) or "FULL"
    assert settings["DATABASE_URL"].default == "unset"
    assert all(setting.description for setting in settings.values())


NEW_SETTING = textwrap.dedent("""
    class Config:
        # a comment saying why, which is not the description
        #: Seconds to wait for
        #: something.
        NEW_TIMEOUT_S: float = field(default_factory=lambda: _float("NEW_TIMEOUT_S", 2 * 60.0))
        UNDESCRIBED: str = _text("UNDESCRIBED", "x")
""")


def test_a_new_setting_shows_up_with_its_default_and_its_description():
    with pytest.raises(ValueError, match="UNDESCRIBED has no description"):
        settings_in(NEW_SETTING)
    described = NEW_SETTING.replace('    UNDESCRIBED: str = _text("UNDESCRIBED", "x")\n', "")
    assert settings_in(described) == [Setting("NEW_TIMEOUT_S", "`120`", "Seconds to wait for something.")]


def test_every_variable_the_code_reads_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text_of(CONFIGURATION)))
    read: dict[str, str] = {}
    for path in sorted([*(PROJECT_ROOT / "backend").rglob("*.py"), *(PROJECT_ROOT / "config").glob("*.py")]):
        if path.name == "settings_reference.py":
            continue  # its docstring shows the readers, with a made-up name
        for match in READ.finditer(path.read_text(encoding="utf-8")):
            read.setdefault(match[1] or match[2], str(path.relative_to(PROJECT_ROOT)))
    assert "PORT" in read and "LOG_FORMAT" in read and "DATABASE_URL" in read
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"read but not documented in {CONFIGURATION}: {missing}"


def test_the_markers_are_html_comments_invisible_on_the_page():
    assert BEGIN.startswith("<!--") and BEGIN.endswith("-->") and END.startswith("<!--") and END.endswith("-->")
