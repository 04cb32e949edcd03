"""docs/protocol.md names every message type, run state and exit code the
code defines: the vocabulary is written once in C++ (cli/common/protocol.hpp,
exit_codes.hpp) and once in the docs, and this test keeps them together."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_HPP = (ROOT / "cli" / "common" / "protocol.hpp").read_text()
EXIT_CODES_HPP = (ROOT / "cli" / "common" / "exit_codes.hpp").read_text()
DOC = (ROOT / "docs" / "protocol.md").read_text()
README = (ROOT / "README.md").read_text()


def string_constants(text):
    return re.findall(r'inline constexpr const char\* \w+ = "([a-z_]+)";', text)


def test_every_message_type_and_run_state_is_documented():
    names = string_constants(PROTOCOL_HPP)
    assert len(names) >= 18, names  # the parse found them
    missing = [n for n in names if f"`{n}`" not in DOC and f'"{n}"' not in DOC]
    assert not missing, f"docs/protocol.md does not name {missing}"


def test_every_exit_code_is_documented():
    codes = re.findall(r"inline constexpr int \w+ = (\d+);", EXIT_CODES_HPP)
    assert len(codes) >= 7, codes
    missing = [c for c in codes if not re.search(rf"\b{c}\b", README)]
    assert not missing, f"README.md does not list exit codes {missing}"


def test_the_runtime_calls_the_server_makes_exist():
    sources = "".join(p.read_text() for p in (ROOT / "cli" / "server").glob("*.cpp"))
    calls = set(re.findall(r'runtime_call_code\("(\w+)"', sources))
    assert {"serve", "preload", "attach_server"} <= calls, calls
    init = (ROOT / "share" / "ltest" / "ltest" / "__init__.py").read_text()
    for name in calls:
        assert re.search(rf"\b{name}\b", init), f"ltest.{name} is not exported"
        assert f"`{name}" in DOC or f"ltest').{name}" in DOC, f"docs/protocol.md does not name {name}"
