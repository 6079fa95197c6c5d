from runner.events import diagnostics, error_lines, parse_line, parse_stream

APPLY_COMPLETE = ('{"@level":"info","@message":"terraform_data.a: Creation complete after 0s",'
                  '"hook":{"resource":{"addr":"terraform_data.a"},"action":"create",'
                  '"id_key":"id","id_value":"59f9","elapsed_seconds":0},"type":"apply_complete"}')
DIAG = ('{"@level":"error","@message":"Error: Saved plan is stale","diagnostic":'
        '{"severity":"error","summary":"Saved plan is stale","detail":"The given plan file '
        'can no longer be applied.","range":{"filename":"main.tf","start":{"line":3}}},'
        '"type":"diagnostic"}')
SUMMARY = ('{"@level":"info","@message":"Plan: 2 to add","changes":{"add":2,"change":0,'
           '"import":0,"remove":0,"operation":"plan"},"type":"change_summary"}')


def test_apply_event_fields():
    e = parse_line(APPLY_COMPLETE)
    assert (e.type, e.address, e.action, e.id_value, e.elapsed_seconds) == \
        ("apply_complete", "terraform_data.a", "create", "59f9", 0)


def test_diagnostic_fields_and_one_line():
    e = parse_line(DIAG)
    assert e.diagnostic.summary == "Saved plan is stale"
    assert e.diagnostic.one_line() == \
        "Saved plan is stale: The given plan file can no longer be applied. (main.tf:3)"


def test_change_summary_counts_ignore_non_numbers():
    assert dict(parse_line(SUMMARY).changes) == {"add": 2, "change": 0, "import": 0, "remove": 0}


def test_garbage_and_blank_lines_do_not_crash():
    events = parse_stream("\nnot json at all\n[1,2]\n" + DIAG + "\n{\"type\": \"log\"")
    assert [e.type for e in events] == ["text", "text", "diagnostic", "text"]
    assert len(diagnostics(events)) == 1
    assert error_lines(events) == [
        "Saved plan is stale: The given plan file can no longer be applied. (main.tf:3)"]


def test_error_lines_fall_back_to_error_messages():
    events = parse_stream('{"@level":"error","@message":"boom","type":"log"}')
    assert error_lines(events) == ["boom"]
