"""The providers' numeric state in columns (simulation/state.py): agents read and write it
as attributes, mechanisms as arrays, and numpy scalars never leak out."""

import numpy as np

from simulation import TerritoryModel
from simulation.organisations import ConventionalFirm, Ledger, Organisation, Provider
from simulation.state import FLOAT_COLUMNS, INT_COLUMNS, LEDGER_FIELDS, ProviderState

from .conftest import smoke


def test_attributes_read_back_as_plain_python_numbers_whatever_was_written():
    """Python's sum is compensated (Neumaier, 3.12) only over plain floats: a numpy scalar
    among an agent's attributes would change a metric's last digits depending on which code
    path wrote it.  Reads therefore return float / int, even after numpy scalars are written."""
    model = TerritoryModel(smoke(), rng=0)
    o = model.organisations()[0]
    o.treasury_eur = np.float64(1.5)
    o.ledger.subsidy_eur += np.float32(2.0)
    o.insolvent_quarters = np.int64(3)
    assert type(o.treasury_eur) is float and o.treasury_eur == 1.5
    assert type(o.ledger.subsidy_eur) is float and o.ledger.subsidy_eur == 2.0
    assert type(o.insolvent_quarters) is int and o.insolvent_quarters == 3
    assert type(o.sector) is int


def test_columns_hold_the_agents_attributes_and_survive_growth():
    model = TerritoryModel(smoke(), rng=0)
    state = model.provider_state
    cols = state.cols
    first = model.organisations()[0]
    first.staff_fte = 7.25
    capacity = state.capacity
    made = [Organisation(model, sector=1, municipality=0, staff_fte=float(k)) for k in range(capacity + 1)]
    assert state.capacity > capacity and state.cols is cols  # grown in place: agents keep their dict
    assert first.staff_fte == 7.25 and cols["staff_fte"][first._row] == 7.25
    assert [o.staff_fte for o in made] == [float(k) for k in range(capacity + 1)]
    assert len({o._row for o in made} | {first._row}) == capacity + 2  # one row each, never shared
    assert set(made[-1].ledger.as_dict().values()) == {0.0}  # a new provider's ledger is empty (a fresh row)
    firm = ConventionalFirm(model, sector=0, municipality=0, staff_fte=2.0)
    assert cols["ess"][firm._row] == 0 and cols["ess"][first._row] == 1


def test_every_numeric_attribute_of_a_provider_is_a_column():
    """What is left in slots is not numeric state (a mechanism over arrays must not miss any)."""
    assert set(Provider.__slots__) == {"_cols", "_row", "legal_form", "alive", "pending_support", "prev_flows", "strategy", "ptce"}
    for name in FLOAT_COLUMNS + INT_COLUMNS:
        if not name.startswith("ledger_"):
            assert isinstance(getattr(Provider, name), property), name
    assert set(LEDGER_FIELDS) == set(Ledger.__dataclass_fields__)


def test_ledger_view_adds_as_the_ledger_does():
    model = TerritoryModel(smoke(), rng=0)
    o = model.organisations()[0]
    values = {name: 0.1 * (k + 1) for k, name in enumerate(LEDGER_FIELDS)}
    o.ledger = Ledger(**values)
    plain = Ledger(**values)
    assert o.ledger.as_dict() == plain.as_dict()
    assert o.ledger.revenue_eur == plain.revenue_eur and o.ledger.costs_eur == plain.costs_eur
    o.ledger = Ledger()
    assert set(o.ledger.as_dict().values()) == {0.0}


def test_a_state_of_its_own_for_a_plain_mesa_model():
    import mesa

    model = mesa.Model(rng=0)
    o = Organisation(model, sector=0, municipality=0, staff_fte=1.0)
    assert isinstance(model.provider_state, ProviderState) and o.staff_fte == 1.0


def test_running_total_adds_as_a_loop_over_the_agents_does():
    from simulation.state import running_total

    rng = np.random.default_rng(1)
    values = rng.lognormal(8, 3, 500) * rng.choice([-1.0, 1.0], 500)  # magnitudes where order matters
    total = 12.5
    for v in values.tolist():
        total += v
    assert running_total(values, 12.5) == total
    assert running_total(np.zeros(0), 3.0) == 3.0 and type(running_total(values)) is float
