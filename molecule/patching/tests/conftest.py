"""Load the helpers shared by every scenario's verifier (molecule/shared/testinfra_helpers.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

# The fixture with the host's saved maint_result files, in run order.
from testinfra_helpers import results  # noqa: F401
