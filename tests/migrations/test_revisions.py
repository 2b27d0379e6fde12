"""Alembic revisions: one head, every upgrade, every downgrade after the baseline, models match."""

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pytest_alembic.tests import (  # noqa: F401  (collected as tests here)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_upgrade,
)

from backend.settings import PROJECT_ROOT
from backend.store.migrations import alembic_config as project_alembic_config

BASELINE = "0001"


def revisions_after_baseline():
    script = ScriptDirectory.from_config(project_alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions())) if r.revision != BASELINE]


def test_alembic_ini_and_the_code_name_the_same_revisions():
    ini = Config(str(PROJECT_ROOT / "alembic.ini"))
    in_code = project_alembic_config()
    assert Path(ini.get_main_option("script_location")).resolve() == PROJECT_ROOT / "alembic"
    assert Path(in_code.get_main_option("script_location")).resolve() == PROJECT_ROOT / "alembic"


def test_the_baseline_is_the_first_revision():
    script = ScriptDirectory.from_config(project_alembic_config())
    assert script.get_base() == BASELINE


@pytest.mark.parametrize("revision", revisions_after_baseline() or ["(none yet)"])
def test_each_revision_after_the_baseline_downgrades_and_upgrades_again(alembic_runner, revision):
    if revision == "(none yet)":
        alembic_runner.migrate_up_to("heads")
        assert alembic_runner.current == BASELINE
        return
    alembic_runner.migrate_up_to(revision)
    alembic_runner.migrate_down_one()
    assert alembic_runner.current != revision
    alembic_runner.migrate_up_one()
    assert alembic_runner.current == revision


def test_downgrading_the_baseline_refuses(alembic_runner):
    alembic_runner.migrate_up_to(BASELINE)
    with pytest.raises(Exception, match="Refusing to downgrade"):
        alembic_runner.migrate_down_one()
    assert alembic_runner.current == BASELINE
