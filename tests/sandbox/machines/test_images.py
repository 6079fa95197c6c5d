"""Registry-free images: root filesystems from host files, checked by
running them (chroot into the unpacked tree) rather than by listing names."""
from __future__ import annotations

import subprocess
import tarfile

import pytest

from sandbox.machines import images


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    sizes = images.build(out, ["busybox", "python", "redis", "postgres"])
    return out, sizes


def _unpack(tar_path, into):
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="tar")
    # The image's "/" is 0755 as `docker import` makes it, whatever the umask of this
    # test process (a 0700 root would keep the postgres user out of /bin/sh).
    into.chmod(0o755)
    return into


def test_each_image_runs_its_program_with_only_its_own_files(built, tmp_path):
    out, sizes = built
    assert set(sizes) == {"busybox", "python", "redis", "postgres"}
    cases = {"busybox": ["/bin/sh", "-c", "echo $((6 * 7))"],
             "python": ["/usr/bin/python3", "-c", "import json, ssl, sqlite3, hashlib, psycopg2; print(json.dumps([42]))"],
             "redis": ["/usr/bin/redis-server", "--version"],
             "postgres": ["/usr/lib/postgresql/15/bin/postgres", "--version"]}
    expected = {"busybox": "42", "python": "[42]", "redis": "Redis server v=", "postgres": "postgres (PostgreSQL) 15"}
    for name, argv in cases.items():
        root = _unpack(out / f"{name}.tar", tmp_path / name)
        done = subprocess.run(["/usr/sbin/chroot", str(root), *argv], capture_output=True, text=True, timeout=30,
                              env={"PATH": "/bin:/usr/bin"})
        assert done.returncode == 0, (name, done.stderr)
        assert done.stdout.startswith(expected[name]), (name, done.stdout)


def test_unknown_image_names_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        images.main(["--out", "/nonexistent-never-written", "nginx"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "sandbox-images: error: unknown image 'nginx': choose from busybox, python, redis, postgres, caddy"


def test_postgres_image_initdbs_once_and_answers_with_a_password(built, tmp_path):
    """pg-start in the unpacked image (chroot, /dev bound in a private mount
    namespace): initdb on first start, a real SELECT 1 over TCP with the
    password, a wrong password refused, and a second start keeps the data."""
    out, _ = built
    root = _unpack(out / "postgres.tar", tmp_path / "pg")
    (root / "dev").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)    # the "tar" extraction filter drops the sticky bit docker import keeps
    port = _free_port()
    script = f"mount --rbind /dev {root}/dev && exec /usr/sbin/chroot {root} /usr/local/bin/pg-start -p {port}"
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "POSTGRES_PASSWORD": "s3cret"}

    def start():
        return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def query(password, sql):
        return _psql(port, password, sql)

    for round_ in (1, 2):
        proc = start()
        try:
            _wait_answer(port, proc)
            if round_ == 1:
                assert query("s3cret", "CREATE TABLE t (n int); INSERT INTO t VALUES (7); SELECT 1").returncode == 0
                bad = query("wrong", "SELECT 1")
                assert bad.returncode != 0 and "password authentication failed" in bad.stderr
            else:
                assert query("s3cret", "SELECT n FROM t").stdout.strip() == "7"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert (root / "data" / "postgres" / "PG_VERSION").read_text().strip() == "15"


def _free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def _psql(port, password, sql):
    return subprocess.run(["psql", "-h", "::1", "-p", str(port), "-U", "app", "-d", "app", "-Atc", sql],
                          capture_output=True, text=True, timeout=30, env={"PGPASSWORD": password, "PATH": "/usr/bin:/bin"})


def _wait_answer(port, proc, tries=300):
    import time
    for _ in range(tries):
        assert proc.poll() is None, proc.stderr.read().decode()
        if _psql(port, "s3cret", "SELECT 1").stdout.strip() == "1":
            return
        time.sleep(0.1)
    raise AssertionError("postgres did not answer")
