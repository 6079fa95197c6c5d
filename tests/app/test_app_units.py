"""The pure parts of the app phase: lock records, health URLs, release ids, log masking."""
from __future__ import annotations

import json

from app import lock
from app.health import url_for
from app.releases import AppSpec, _mask, env_values


def test_lock_record_and_its_description():
    record = json.loads(lock.owner_record("app deploy", now=1000))
    assert record["command"] == "app deploy" and record["time"] == 1000 and "@" in record["owner"]
    text = lock.describe(json.dumps(record), now=1030)
    assert text.endswith("running `app deploy` for 30 s")
    stale = lock.describe(json.dumps(record), now=1000 + lock.STALE_AFTER_S + 1)
    assert stale.endswith("(stale)")
    assert lock.describe("garbage") == "held, with an unreadable owner record"


def test_health_url():
    assert url_for("198.51.100.2", 80, "/health") == "http://198.51.100.2/health"
    assert url_for("198.51.100.2", 8080, "/h?x=1") == "http://198.51.100.2:8080/h?x=1"
    assert url_for("2001:db8::1", 80, "/health") == "http://[2001:db8::1]/health"


def test_release_id_follows_both_files():
    a = AppSpec("p", b"compose", b"A=1\n")
    assert a.release == AppSpec("p", b"compose", b"A=1\n").release
    assert a.release != AppSpec("p", b"compose", b"A=2\n").release
    assert a.release != AppSpec("p", b"compose2", b"A=1\n").release
    assert len(a.release) == 12 and int(a.release, 16) >= 0


def test_env_values_are_masked_in_log_lines():
    values = env_values(b"# comment\nAPI_KEY=abc123secret\nQUOTED='q-value-1'\nEMPTY=\n")
    assert values == ["abc123secret", "q-value-1", ""]
    assert _mask("web_1 | key=abc123secret q-value-1", [v for v in values if v]) == "web_1 | key=*** ***"


def test_release_id_follows_the_apps_own_files():
    bare = AppSpec("p", b"compose", b"A=1\n")
    with_code = AppSpec("p", b"compose", b"A=1\n", files=(("backend/app.py", b"v1"),))
    assert with_code.release != bare.release
    assert with_code.release != AppSpec("p", b"compose", b"A=1\n",
                                        files=(("backend/app.py", b"v2"),)).release
    assert with_code.release == AppSpec("p", b"compose", b"A=1\n",
                                        files=(("backend/app.py", b"v1"),)).release


def test_the_noop_path_reads_its_files_without_pydantic_or_requests(make_config, tmp_path):
    """A no-op deploy reads [app]'s files and builds the spec from the cached config; the
    validators' library and the health check's HTTP library stay unimported until needed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from generator.config import load_config
    from tests.conftest import BASE_TOML
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / ".env").write_text("API_KEY=x\n")
    os.chmod(tmp_path / ".env", 0o600)
    path = make_config(BASE_TOML + '\n[app]\ncompose = "compose.yaml"\nenv_file = ".env"\n')
    load_config(path)   # validated once, as the first deploy does
    code = ("import sys; from generator.config import load_config; from app.service import spec_from; "
            f"s = spec_from(load_config({str(path)!r})); "
            "print('pydantic' in sys.modules, 'requests' in sys.modules, s.release)")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:2] == ["False", "False"] and len(out[2]) == 12
