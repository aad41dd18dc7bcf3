"""A production app tunes the garbage collector of its process once; other apps leave it.

Each case runs in a fresh interpreter: the tuning is process-wide, and the test process's own
collector must stay as Python left it.
"""

import json
import subprocess
import sys

import pytest

from tracker import YOUNG_COLLECTION_THRESHOLD

BUILD = """
import gc, json, sys
from tracker import create_app
before = gc.get_threshold()
for _ in range(2):
    create_app(sys.argv[1], SECRET_KEY="g" * 48, SQLALCHEMY_DATABASE_URI=sys.argv[2])
print(json.dumps({"frozen": gc.get_freeze_count(), "before": before,
                  "after": gc.get_threshold()}))
"""


def build_twice(config_name: str, tmp_path) -> dict:
    url = f"sqlite:///{tmp_path / 'gc.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-c", BUILD, config_name, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_freezes_what_it_built_and_collects_the_young_less_often(tmp_path):
    seen = build_twice("production", tmp_path)
    # The app's own objects (mappers, templates, modules): tens of thousands.
    assert seen["frozen"] > 20_000
    assert seen["after"] == [YOUNG_COLLECTION_THRESHOLD, *seen["before"][1:]]


@pytest.mark.parametrize("config_name", ["development", "testing"])
def test_other_apps_leave_the_collector_alone(config_name, tmp_path):
    seen = build_twice(config_name, tmp_path)
    assert seen == {"frozen": 0, "before": seen["before"], "after": seen["before"]}
