import sys
from pathlib import Path

# The runtime as the server loads it: from share/ltest, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "share" / "ltest"))
