"""ssh.public_key: parsed by cryptography, each wrong file its own one-line error.

Keys are made by ssh-keygen, and ssh-keygen is the second opinion: whatever we
accept it can fingerprint, and the malformed key lines below it refuses too.
"""
from __future__ import annotations

import base64
import os
import struct
import subprocess
from pathlib import Path

import pytest

from errors import ConfigError
from generator.config import load_config
from generator.ssh_key import MAX_BYTES, read_public_key
from tests.conftest import BASE_TOML, TEST_PUBLIC_KEY


def keygen(tmp_path: Path, kind: str, bits: str | None = None, comment: str = "me@example.com") -> Path:
    private = tmp_path / f"id_{kind}"
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(private)]
    if bits:
        argv[4:4] = ["-b", bits]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return private


def fingerprint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("rsa", "3072"), ("ecdsa", "256"),
                                       ("ecdsa", "521")])
def test_keys_from_ssh_keygen_are_accepted_without_their_comment(tmp_path, kind, bits):
    private = keygen(tmp_path, kind, bits)
    public = private.with_suffix(".pub")
    line = public.read_text()
    assert line.endswith(" me@example.com\n")
    assert read_public_key(public) == " ".join(line.split()[:2])
    assert "me@example.com" not in read_public_key(public)
    assert fingerprint(public).returncode == 0


def _sk_ed25519_line() -> str:
    # A FIDO security-key public key: type, 32-byte key, application. Built by hand,
    # because no authenticator is attached here; ssh-keygen -l is the judge below.
    def s(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b
    blob = s(b"sk-ssh-ed25519@openssh.com") + s(bytes(range(32))) + s(b"ssh:")
    return f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()}"


def test_security_key_type_is_kept_as_given(tmp_path):
    # cryptography loads the underlying ed25519 key: re-serialising would drop "sk-".
    path = tmp_path / "sk.pub"
    path.write_text(_sk_ed25519_line() + " yubikey\n")
    assert fingerprint(path).returncode == 0
    assert read_public_key(path) == _sk_ed25519_line()


def test_the_example_key_is_unchanged():
    path = Path(__file__).resolve().parents[2] / "examples" / "example_ed25519.pub"
    assert read_public_key(path) == " ".join(path.read_text().split()[:2])


ED = TEST_PUBLIC_KEY.split()[1]

# (file text, what our message says, does ssh-keygen -l accept it?). Where ssh-keygen
# accepts, our refusal is policy: the comment is dropped anyway, but a quote, a template
# marker, a second key or a control character means the file is not what the user thinks.
BAD_KEYS = [
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
     "is a private key, not an OpenSSH public key: give the .pub file", False),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n", "is a private key", False),
    ("PuTTY-User-Key-File-3: ssh-ed25519\n", "is a private key", False),
    ("", "is empty", False),
    ("\n\n  \n", "is empty", False),
    ("ssh-ed25519 AAAA!!!notbase64\n", "is not valid base64", False),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n", "is not valid base64", False),
    # valid base64, but not a key blob / a blob of another type / a corrupted key
    ("ssh-ed25519 " + base64.b64encode(b"hello world, not a key").decode() + "\n", "does not parse", False),
    ("ssh-rsa " + ED + "\n", "does not parse", False),
    ("ssh-ed25519 " + ED[:-8] + "AAAAAAA=\n", "does not parse", False),
    ('ssh-ed25519 ' + ED + '"; evil\n', "contains a quote character '\"'", False),
    ("ssh-ed25519 " + ED + " it's me\n", "contains a quote character \"'\"", True),
    ('from="10.0.0.1" ssh-ed25519 ' + ED + "\n", "contains a quote character", True),
    ("ssh-ed25519 " + ED + " ${file(/etc/passwd)}\n", "contains the template marker '${'", True),
    ("ssh-ed25519 " + ED + " %{ if true }\n", "contains the template marker '%{'", True),
    ("ssh-ed25519 " + ED + " {{ secret }}\n", "contains the template marker '{{'", True),
    ("ssh-ed25519 " + ED + "\nssh-ed25519 " + ED + "\n", "has 2 lines; give one key", True),
    ("ssh-ed25519 " + ED + " a\rb\n", "has 2 lines", True),
    ("ssh-ed25519 " + ED + " tab\x0bthere\n", "has 2 lines", True),
    ("ssh-ed25519 " + ED + " bell\x07\n", "contains control characters", True),
    ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", "has 3 lines", False),
    ("---- BEGIN SSH2 PUBLIC KEY ----\n", "is not an OpenSSH public key", False),
    ("ssh-ed25519\n", "is not an OpenSSH public key", False),
    ("ecdsa-sha2-nistp999 " + ED + "\n", "ecdsa-sha2-nistp999", False),
    ("ssh-ed25519 " + ED + " caf\u00e9\n", "is not ASCII", True),
]


@pytest.mark.parametrize("text,needle,keygen_accepts", BAD_KEYS)
def test_bad_key_files_are_one_line_naming_the_key(tmp_path, text, needle, keygen_accepts):
    path = tmp_path / "k.pub"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(ConfigError) as err:
        read_public_key(path)
    message = str(err.value)
    assert message.startswith(f"ssh.public_key: {path} ")
    assert needle in message
    assert len(message.splitlines()) == 1 and len(message) < 400
    # The second opinion: ssh-keygen refuses every line we call malformed.
    assert (fingerprint(path).returncode == 0) is keygen_accepts


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError) as err:
        read_public_key(tmp_path / "id_ed25519.pub")
    assert str(err.value) == (f"ssh.public_key: file not found: {tmp_path / 'id_ed25519.pub'} "
                              f"(create one with: ssh-keygen -t ed25519 -f {tmp_path / 'id_ed25519'})")


def test_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"^ssh.public_key: .* is a directory, not a file$"):
        read_public_key(tmp_path)


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "k.pub"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is a FIFO, not a regular file$"):
        read_public_key(fifo)


def test_device_is_refused_before_reading():
    with pytest.raises(ConfigError, match=r"^ssh.public_key: /dev/zero is a device, not a regular file$"):
        read_public_key(Path("/dev/zero"))


def test_symlink_loop(tmp_path):
    (tmp_path / "a.pub").symlink_to(tmp_path / "b.pub")
    (tmp_path / "b.pub").symlink_to(tmp_path / "a.pub")
    with pytest.raises(ConfigError, match=r"a.pub is a symlink loop$"):
        read_public_key(tmp_path / "a.pub")


def test_multi_megabyte_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "k.pub"
    with path.open("wb") as f:     # sparse: 3 MiB on paper, nothing on disk
        f.truncate(3 * 1024 * 1024)
    with pytest.raises(ConfigError, match=r"is larger than 16 KiB; a public key is one short line$"):
        read_public_key(path)
    path.write_text(TEST_PUBLIC_KEY + " " + "x" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match="is larger than 16 KiB"):
        read_public_key(path)


def test_key_just_under_the_cap_is_read(tmp_path):
    path = tmp_path / "k.pub"
    line = TEST_PUBLIC_KEY + " " + "c" * (MAX_BYTES - len(TEST_PUBLIC_KEY) - 2) + "\n"
    path.write_text(line)
    assert path.stat().st_size == MAX_BYTES
    assert read_public_key(path) == " ".join(TEST_PUBLIC_KEY.split()[:2])


def test_load_config_refuses_a_bad_key_naming_the_file_and_key(make_config):
    path = make_config(key="-----BEGIN OPENSSH PRIVATE KEY-----")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith("deploy.toml: ssh.public_key: ")
    assert str(err.value).endswith("is a private key, not an OpenSSH public key: give the .pub file")


def test_key_path_is_resolved_next_to_the_config(make_config, tmp_path):
    config = load_config(make_config(BASE_TOML))
    assert config.ssh_public_key == tmp_path / "id_test.pub"
