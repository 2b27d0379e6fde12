"""A worker's loaded app is left out of the garbage collector's full passes (config/hooks.freeze_loaded_objects).

A full pass walked every object of the loaded app and stopped every request of the worker meanwhile: 88 and
146 ms with 200 turns streaming (docs/performance.md, "Turns that outlive their connection")."""

from __future__ import annotations

import json
import subprocess
import sys

from gunicorn.config import KNOWN_SETTINGS

from backend.settings import PROJECT_ROOT
from tests.servers import server_env

# As gunicorn runs a worker: the config, then the app imported, then the hook gunicorn calls once it is loaded.
WORKER = """
import gc, json, runpy
config = runpy.run_path("config/gunicorn.conf.py")
import wsgi
before = gc.get_freeze_count()
config["post_worker_init"](None)
gc.collect()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


def test_gunicorn_calls_the_hook_by_this_name():
    assert "post_worker_init" in {setting.name for setting in KNOWN_SETTINGS}


def test_a_worker_that_loaded_the_app_leaves_its_objects_out_of_full_collections(tmp_path):
    env = server_env(f"sqlite:///{tmp_path / 'sessions.db'}", GUNICORN_WORKER_CLASS="sync")
    (tmp_path / "metrics").mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    done = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["before"] == 0
    # The app's modules, classes and compiled statements: over 100,000 objects, against a few hundred left.
    assert counts["frozen"] > 100_000
    assert counts["tracked"] < counts["frozen"] / 20
