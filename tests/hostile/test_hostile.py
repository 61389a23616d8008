"""Every hostile case through info / export / run: exit code 1 with one typed line naming the
key or field, never a signal, a hang, memory past the cap, or a half-written output."""


def test_hostile(case_command, results):
    case, cmd = case_command
    r = results[(case["id"], cmd)]
    what = f"{case['id']} ({case['description']}) via {cmd}"
    assert not r["hung"], f"{what}: hung (killed after the timeout)"
    assert r["signal"] is None, f"{what}: killed by signal {r['signal']}: {r['stderr']}"
    assert not r["leftovers"], f"{what}: left temporary files {r['leftovers']}"
    if case["expect"] == "error_or_ok" and r["rc"] == 0:
        return
    assert r["rc"] == 1, f"{what}: exit code {r['rc']} (expected 1): {r['stderr']!r}"
    assert not r["dst_exists"], f"{what}: the export left an output file"
    lines = r["stderr"].rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("volbatch: "), \
        f"{what}: stderr is not one 'volbatch: ' line: {r['stderr']!r}"
    for w in case["words"]:
        assert w in lines[0], f"{what}: the message does not name {w!r}: {lines[0]}"
