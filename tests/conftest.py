import os
import tempfile
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# models trained by the tests are recorded in a throwaway trust store, not the user's
os.environ.setdefault("SIGNAAL_TRUST_FILE", str(Path(tempfile.mkdtemp(prefix="signaal-trust-")) / "trusted.json"))
DEV = REPO.parent / "shared" / "eval" / "dev"


@pytest.fixture(scope="session")
def analyzer():
    """The rules-only analyzer on the fallback pipeline (what CI runs)."""
    from signaal.signals.pipeline import Analyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Analyzer(model=None)


@pytest.fixture(scope="session")
def dev_dir():
    if not DEV.is_dir():
        pytest.skip(f"dev set not found at {DEV}")
    return DEV
