"""A committed seeded baseline catches unintended changes of behaviour (Covasim style).

If a change of the model is intended, regenerate the file explicitly and commit it with
the change that explains it:

    python -m tests.test_baseline --regenerate
"""

import json
import sys
from pathlib import Path

import pandas as pd

from simulation import TerritoryModel, load_scenario

from .conftest import REGIMES, SCENARIOS

BASELINE = Path(__file__).with_name("baselines") / "smoke_seed7.json"


def compute() -> dict[str, dict[str, list]]:
    out = {}
    for regime in REGIMES:
        sc = load_scenario(SCENARIOS / "smoke.toml", {"regime.kind": regime})
        out[regime] = TerritoryModel(sc, rng=7).run().timeseries().to_dict(orient="list")
    return out


def test_smoke_baseline_unchanged():
    expected = json.loads(BASELINE.read_text())
    actual = compute()
    for regime in REGIMES:
        # JSON keeps floats exactly (shortest repr round-trips), so this is a bit-for-bit check
        # up to the platform's floating point; rtol 1e-9 allows libm differences only.
        pd.testing.assert_frame_equal(
            pd.DataFrame(actual[regime]), pd.DataFrame(expected[regime]), check_dtype=False, rtol=1e-9,
            obj=f"baseline {regime} (regenerate with: python -m tests.test_baseline --regenerate)",
        )


if __name__ == "__main__":
    if "--regenerate" in sys.argv:
        BASELINE.parent.mkdir(exist_ok=True)
        BASELINE.write_text(json.dumps(compute(), indent=1))
        print(f"wrote {BASELINE}")
    else:
        print(__doc__)
