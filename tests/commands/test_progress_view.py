from commands.progress_view import ConsoleProgress
from pipeline.progress import PhaseLine
from runner.events import parse_line

EVENT = ('{"@level":"info","@message":"hcloud_server.main: Creating...",'
         '"hook":{"resource":{"addr":"hcloud_server.main"},"action":"create"},'
         '"type":"apply_start"}')


def test_plain_lines_without_terminal(capsys):
    p = ConsoleProgress(rich=False)
    p.phase(PhaseLine("plan", "done", "6 to create"))
    p.event(parse_line(EVENT))
    p.event(parse_line('{"type":"log","@message":"noise"}'))
    assert capsys.readouterr().out == "[plan] done: 6 to create\n    hcloud_server.main: Creating...\n"


def test_rich_marks_on_a_terminal(capsys):
    p = ConsoleProgress(rich=True)
    p.phase(PhaseLine("apply", "skipped", "nothing to apply"))
    assert "· apply skipped: nothing to apply" in capsys.readouterr().out


def test_quiet_for_json(capsys):
    p = ConsoleProgress(quiet=True)
    p.phase(PhaseLine("plan", "done"))
    p.event(parse_line(EVENT))
    p.note("x")
    assert capsys.readouterr().out == ""
