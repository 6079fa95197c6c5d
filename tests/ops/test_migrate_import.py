"""`migrate import`'s local half: the old host's URLs, and the dump against a real PostgreSQL
and Redis (Debian packages). The oracle for the dump is the backup agent's own drill: the
folder must restore and count like any backup of the server."""
from __future__ import annotations

import json
import stat

import pytest

from errors import ConfigError, RefusedError
from ops import backup_agent
from ops import migrate_import as mi
from runner import process
from tests.ops.test_backup_agent import LocalRedis, databases

SECRET_PG, SECRET_REDIS = "pg-Sécret:/@?#x", "redis secret;$(id)"


@pytest.mark.parametrize("url, env", [
    ("postgresql://app:pw@db.example.net:6543/railway",
     {"PGHOST": "db.example.net", "PGPORT": "6543", "PGUSER": "app", "PGDATABASE": "railway",
      "PGPASSWORD": "pw"}),
    ("postgres://postgres:p%40ss%2Fw@10.1.2.3/app?sslmode=require",
     {"PGHOST": "10.1.2.3", "PGPORT": "5432", "PGUSER": "postgres", "PGDATABASE": "app",
      "PGPASSWORD": "p@ss/w", "PGSSLMODE": "require"}),
])
def test_postgres_urls_become_the_clients_environment(url, env):
    source = mi.postgres_source(mi.PG_VAR, url)
    assert {k: v for k, v in source.env.items() if k != "PGCONNECT_TIMEOUT"} == env
    assert source.args == () and source.db == env["PGDATABASE"]
    assert env["PGPASSWORD"] not in source.label and env["PGPASSWORD"] not in repr(source)


@pytest.mark.parametrize("url, args, env", [
    ("redis://default:pw@r.example.net:6380", ["-h", "r.example.net", "-p", "6380"],
     {"REDISCLI_AUTH": "pw"}),
    ("rediss://ops:pw@10.0.0.9/2", ["-h", "10.0.0.9", "-p", "6379", "--user", "ops", "--tls"],
     {"REDISCLI_AUTH": "pw"}),
    ("redis://10.0.0.9", ["-h", "10.0.0.9", "-p", "6379"], {}),
])
def test_redis_urls_become_argv_without_the_password(url, args, env):
    source = mi.redis_source(mi.REDIS_VAR, url)
    assert list(source.args) == args and dict(source.env) == env


@pytest.mark.parametrize("var, url", [
    (mi.PG_VAR, "mysql://app:topsecret@h/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@h:99999/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@h:port/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@-h/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@h/db;rm -rf /"),
    (mi.PG_VAR, "postgresql://app:topsecret@h/"),
    (mi.PG_VAR, "postgresql://-U:topsecret@h/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@h/db?host=/tmp/evil"),
    (mi.PG_VAR, "postgresql://app:topsecret@h/db?sslmode=off"),
    (mi.PG_VAR, "postgresql://app:top%0Asecret@h/db"),
    (mi.PG_VAR, "postgresql://app:topsecret@h$(id)/db"),
    (mi.REDIS_VAR, "redis://:topsecret@h:6379/zero"),
    (mi.REDIS_VAR, "redis://:topsecret@h:6379/0?ssl=1"),
    (mi.REDIS_VAR, "redis://--eval:topsecret@h"),
    (mi.REDIS_VAR, "http://:topsecret@h"),
    (mi.REDIS_VAR, "redis://:topsecret@"),
])
def test_hostile_urls_are_one_line_that_never_shows_the_password(var, url):
    with pytest.raises(ConfigError) as caught:
        mi.old_host({var: url})
    assert "topsecret" not in caught.value.message and "\n" not in caught.value.message
    assert caught.value.message.startswith(var)


def test_no_url_at_all_says_what_to_set():
    with pytest.raises(ConfigError, match="OLD_DATABASE_URL"):
        mi.old_host({})


class _Spy:
    """process.run as it is, with every argv and env seen (the secrets' oracle)."""

    def __init__(self, monkeypatch, after=None):
        self.calls, self.after, self.real = [], after, process.run
        monkeypatch.setattr(process, "run", self)

    def __call__(self, argv, **kw):
        self.calls.append((list(map(str, argv)), dict(kw.get("env") or {})))
        done = self.real(argv, **kw)
        if self.after:
            self.after(argv)
        return done


def _old(pg, redis) -> mi.OldHost:
    redis.cli("CONFIG", "SET", "requirepass", SECRET_REDIS)
    quoted_pg = "pg-S%C3%A9cret%3A%2F%40%3F%23x"
    quoted_redis = "redis%20secret%3B%24%28id%29"
    return mi.old_host({
        mi.PG_VAR: f"postgresql://tf:{quoted_pg}@127.0.0.1:{pg.port}/postgres?sslmode=disable",
        mi.REDIS_VAR: f"redis://:{quoted_redis}@127.0.0.1:{redis.port}"})


def _seed(pg, redis) -> None:
    from tests.ops.test_backup_agent import _psql
    _psql(pg, "postgres", "CREATE TABLE calls (id serial PRIMARY KEY, who text);"
                          "INSERT INTO calls (who) SELECT 'c' || g FROM generate_series(1, 321) g;"
                          "CREATE ROLE railway_reader; GRANT SELECT ON calls TO railway_reader;")
    for i in range(17):
        redis.cli("SET", f"session:{i}", "x")
    redis.cli("-n", "2", "SET", "queue", "y")


@pytest.mark.e2e   # real PostgreSQL and Redis servers
def test_the_dump_is_a_backup_the_agent_drills_and_no_password_is_on_a_command_line(
        tmp_path, monkeypatch):
    with databases(lambda: LocalRedis(tmp_path / "redis")) as (pg, redis):
        _seed(pg, redis)
        old = _old(pg, redis)
        spy = _Spy(monkeypatch)
        folder = mi.dump(old, tmp_path / "import")

        assert backup_agent.NAME.fullmatch(folder.name)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {p.name for p in folder.iterdir()} == {"postgres.dump", "dump.rdb", "manifest.json"}
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["postgres"]["counts"] == {"public.calls": 321}
        assert manifest["redis"]["counts"] == {"db0": 17, "db2": 1}
        assert "127.0.0.1" in manifest["source"] and "Sécret" not in json.dumps(manifest)

        for argv, env in spy.calls:
            assert not any(SECRET_PG in a or SECRET_REDIS in a for a in argv), argv
        pg_envs = [env for argv, env in spy.calls if argv[0] in ("pg_dump", "psql")]
        assert pg_envs and all(env["PGPASSWORD"] == SECRET_PG for env in pg_envs)
        redis_envs = [env for argv, env in spy.calls if argv[0] == "redis-cli"]
        assert redis_envs and all(env["REDISCLI_AUTH"] == SECRET_REDIS for env in redis_envs)

        # The agent's drill is the oracle: the dump restores (without the old host's roles)
        # and its counts match what the old host had.
        config = {"dir": str(tmp_path / "import"),
                  "postgres": {"args": ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "tf"],
                               "db": "postgres"},
                  "redis": {"args": ["-p", str(redis.port)]}}
        assert backup_agent.drill(config, folder.name) == {"postgres": {"public.calls": 321},
                                                            "redis_keys": 18}


@pytest.mark.e2e
def test_writes_during_the_dump_refuse_the_import_and_leave_no_folder(tmp_path, monkeypatch):
    from tests.ops.test_backup_agent import _psql
    with databases(lambda: LocalRedis(tmp_path / "redis")) as (pg, redis):
        _seed(pg, redis)
        old = _old(pg, redis)

        def write_meanwhile(argv):
            if argv[0] == "pg_dump":
                _psql(pg, "postgres", "INSERT INTO calls (who) VALUES ('late')")
        spy = _Spy(monkeypatch, after=write_meanwhile)
        with pytest.raises(RefusedError, match="321 before, 322 after"):
            mi.dump(old, tmp_path / "import")
        assert [p.name for p in (tmp_path / "import").iterdir()
                if not p.name.endswith(".partial")] == []
        # Writes frozen, the next run succeeds and clears what the refused one left.
        spy.after = None
        folder = mi.dump(old, tmp_path / "import")
        assert [p.name for p in (tmp_path / "import").iterdir()] == [folder.name]
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["postgres"]["counts"] == {"public.calls": 322}


def test_missing_clients_are_named_with_their_package(monkeypatch, tmp_path):
    monkeypatch.setattr(process, "which", lambda name: None if name == "redis-check-rdb" else "/x")
    old = mi.old_host({mi.REDIS_VAR: "redis://127.0.0.1:1"})
    with pytest.raises(ConfigError, match=r"redis-check-rdb .*apt install redis-tools"):
        mi.dump(old, tmp_path / "import")
    assert not (tmp_path / "import").exists()
