"""Every external program is started through runner/process.py, and only there.

A grep over the product packages (not sandbox/, which runs its own servers,
and not tests/): any other file naming a way to start a process fails the
test, with the file and line named.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ["cli.py", "errors.py", "commands", "generator", "pricing", "runner", "pipeline",
           "checks"]
ALLOWED = {"runner/process.py"}
# subprocess (any use), os.system/popen/exec*/spawn*/posix_spawn*, pty.spawn, Popen
STARTS_A_PROCESS = re.compile(
    r"\bsubprocess\b|\bPopen\b|\bos\.(system|popen|exec\w*|spawn\w*|posix_spawn\w*|fork\w*)\b"
    r"|\bpty\.spawn\b|\basyncio\.create_subprocess_\w+")


def product_files():
    for entry in PRODUCT:
        path = REPO / entry
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def test_only_runner_process_starts_processes():
    offenders = []
    for path in product_files():
        rel = path.relative_to(REPO).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if STARTS_A_PROCESS.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, ("start processes through runner/process.py (run or stream), "
                           "not here:\n" + "\n".join(offenders))


def test_the_rule_sees_what_it_must():
    # The pattern itself, so a typo cannot make the test above pass vacuously.
    for text in ("import subprocess", "subprocess.run(x)", "os.system('ls')", "os.execvp(a, b)",
                 "Popen(argv)", "os.posix_spawn(p, a, e)", "os.popen('x')", "pty.spawn(a)",
                 "from subprocess import run", "os.fork()"):
        assert STARTS_A_PROCESS.search(text), text
    for text in ("process.run(argv)", "process.stream(argv, f)", "os.path.exists(x)"):
        assert not STARTS_A_PROCESS.search(text), text
    assert {p.relative_to(REPO).as_posix() for p in product_files()} >= {
        "cli.py", "runner/process.py", "runner/terraform.py", "generator/render.py",
        "checks/prerequisites.py"}
