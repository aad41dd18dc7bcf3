"""Production refuses debug mode however it is switched on (the Werkzeug debugger runs code)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import DEBUG_REFUSED, create_app

FLASK = str(Path(sys.executable).parent / "flask")
PRODUCTION_KEY = "a-production-key-of-more-than-thirty-two-bytes"


@pytest.fixture
def production_env(tmp_path, monkeypatch):
    environment = {
        "TRACKER_CONFIG": "production",
        "SECRET_KEY": PRODUCTION_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    return os.environ.copy()


@pytest.mark.parametrize(
    ("extra_env", "arguments"),
    [
        ({"FLASK_DEBUG": "1"}, ["--app", "tracker", "run"]),
        ({}, ["--app", "tracker", "run", "--debug"]),
        ({}, ["--app", "tracker", "--debug", "run"]),
    ],
    ids=["FLASK_DEBUG=1", "run --debug", "--debug run"],
)
def test_flask_run_refuses_debug_in_production(production_env, tmp_path, extra_env, arguments):
    command = [FLASK, *arguments, "--host", "127.0.0.1", "--port", "0", "--no-reload"]
    server = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=production_env | extra_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, errors = server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        pytest.fail(f"`{' '.join(arguments)}` started serving in production with debug on")
    assert server.returncode != 0
    assert DEBUG_REFUSED in errors


def production_app(tmp_path):
    return create_app(
        "production",
        SECRET_KEY=PRODUCTION_KEY,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'in-process.sqlite3'}",
    )


def test_debug_switched_on_later_is_refused(tmp_path):
    app = production_app(tmp_path)
    with pytest.raises(RuntimeError, match="refuses to run with debug"):
        app.debug = True
    with pytest.raises(RuntimeError, match="refuses to run with debug"):
        app.run(debug=True)  # refused before any socket is opened
    assert app.debug is False


def test_a_request_with_debug_set_behind_its_back_is_refused(tmp_path):
    app = production_app(tmp_path)
    app.config["DEBUG"] = True  # not through the setter
    response = app.test_client().get("/login")
    assert response.status_code == 500
    assert response.get_data(as_text=True) == DEBUG_REFUSED


def test_other_configurations_may_debug(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    app.debug = True
    assert app.debug is True
