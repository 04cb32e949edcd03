"""Unit tests of the Python runtime (share/ltest/ltest/), without a kernel:
one file per runtime module, test_<module>.py (for in_kernel/x.py and
in_test_process/x.py too), plus test_protocol_doc.py (the wire's vocabulary
in docs/protocol.md). forked.py holds what several files use: a function run
in a fork, a run's pipes, a run's spec, the server's side of the hand-over.
The kernel paths are tested in tests/notebook (magic.py and lab_panel.py
there: test_magic_parts.py, test_magic_lab_panel.py) and tests/integration."""
import sys
from pathlib import Path

# The runtime as the server loads it: from share/ltest, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "share" / "ltest"))
