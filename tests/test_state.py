"""The providers' numeric state in columns (simulation/state.py): agents read and write it
as attributes, mechanisms as arrays, and numpy scalars never leak out."""

import numpy as np
import pytest

from simulation import TerritoryModel
from simulation.organisations import NON_MEMBER, ConventionalFirm, Ledger, Organisation, Provider
from simulation.state import FLAG_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, LEDGER_FIELDS, ProviderState, Roster

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
    assert set(Provider.__slots__) == {"_cols", "_row", "legal_form", "alive", "pending_support", "strategy", "ptce"}
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


def test_a_new_provider_starts_with_these_values_in_every_column():
    """Provider.__init__ writes only what is not zero (a fresh row is zeros): every column
    of a new provider's row checked, after a run has filled other rows."""
    model = TerritoryModel(smoke(steps=3), rng=0).run()
    org = Organisation(model, sector=2, municipality=1, staff_fte=3.5, insertion_share=0.25, volunteers_fte=1.5,
                       treasury_eur=900.0, technicisation=0.2, governance=0.6, legal_form="cooperative", accredited_from=5)
    firm = ConventionalFirm(model, sector=-1, municipality=2, staff_fte=40.0)
    zeros = dict.fromkeys(FLOAT_COLUMNS + INT_COLUMNS + FLAG_COLUMNS, 0)
    ones = {"personalisation": 0.5, "supply_cost_multiplier": 1.0, "productivity": 1.0, "outside_supply_share": 1.0, "founded_step": 3}
    cols = model.provider_state.cols
    assert {name: cols[name][org._row].item() for name in cols} == zeros | ones | {
        "ess": 1, "sector": 2, "municipality": 1, "staff_fte": 3.5, "insertion_share": 0.25, "volunteers_fte": 1.5,
        "treasury_eur": 900.0, "technicisation": 0.2, "governance": 0.6, "governance_base": 0.6, "accredited_from": 5}
    assert {name: cols[name][firm._row].item() for name in cols} == zeros | ones | {
        "sector": -1, "municipality": 2, "staff_fte": 40.0, "technicisation": 0.3, "governance": 0.7, "governance_base": 0.7}
    assert (org.legal_form, org.alive, org.pending_support, org.prev_flows, org.strategy, org.ptce) == (
        "cooperative", True, False, None, "independent", None)
    for k, name in enumerate(NON_MEMBER):
        setattr(org, name, 0.5 + k)
    org.reset_cooperation()
    assert {name: getattr(org, name) for name in NON_MEMBER} == NON_MEMBER


def test_the_roster_keeps_a_dicts_order_through_additions_removals_and_compaction():
    rng = np.random.default_rng(0)
    roster, ref = Roster(capacity=4), {}
    for _ in range(3000):
        uid = int(rng.integers(50))
        if rng.random() < 0.55:
            roster.add(7 * uid + 1, uid)
            ref[uid] = 7 * uid + 1
        elif uid in ref:
            roster.remove(uid)
            del ref[uid]
        rows, ids = roster.arrays()
        assert ids.tolist() == list(ref) and rows.tolist() == list(ref.values())
    assert roster.n < 3000 // 2  # dead entries were dropped on the way


def test_the_provider_arrays_follow_the_providers_through_entries_closures_and_mergers():
    from operator import attrgetter

    for policy in ("endogenous", "concentrate"):
        model = TerritoryModel(smoke(**{"strategy.policy": policy}), rng=3).run()
        assert model.closed and model.merger_log and any(o.founded_step > 0 for o in model.organisations())
        provs = model.providers()
        rows = np.array([p._row for p in provs])
        np.testing.assert_array_equal(model.provider_rows(), rows)
        np.testing.assert_array_equal(model.provider_ids(), [p.unique_id for p in provs])
        np.testing.assert_array_equal(model.provider_is_ess(), [p.is_ess for p in provs])
        np.testing.assert_array_equal(model.organisation_rows(), list(map(attrgetter("_row"), model.organisations())))
        by_id = model.row_by_id()
        assert {i: int(r) for i, r in enumerate(by_id) if r >= 0} == {p.unique_id: p._row for p in provs}


def test_new_rows_are_consecutive_zero_rows_and_the_columns_grow_in_place():
    state = ProviderState(capacity=4)
    cols = state.cols
    assert state.new_row() == 0
    cols["staff_fte"][0] = 2.5
    assert state.new_rows(9) == 1 and state.size == 10 and state.capacity == 16 and state.cols is cols
    assert cols["staff_fte"][0] == 2.5 and not cols["staff_fte"][1:].any()
    assert state.new_rows(0) == 10 and state.new_row() == 10


def test_create_many_makes_what_construction_one_by_one_makes():
    """Provider.create_many against n calls of the constructor: the same unique_ids, rows,
    every column of the rows and the slots, each keyword one value for all or one per agent."""
    one, many = (TerritoryModel(smoke(steps=2), rng=4).run() for _ in range(2))
    values = {"sector": np.array([0, 3, 1]), "municipality": np.array([2, 0, 1]), "staff_fte": 1.5,
              "volunteers_fte": np.array([0.5, 0.0, 2.25]), "treasury_eur": 4000.0, "technicisation": 0.1,
              "governance": 0.7, "insertion_share": np.array([0.0, 0.3, 0.0]), "accredited_from": 6}
    for cls in (Organisation, ConventionalFirm):
        ref = [cls(one, legal_form="cooperative", **{k: v[i].item() if isinstance(v, np.ndarray) else v for k, v in values.items()})
               for i in range(3)]
        made = cls.create_many(many, 3, legal_form="cooperative", **values)
        assert [type(a) for a in made] == [cls] * 3
        assert [a.unique_id for a in made] == [a.unique_id for a in ref] and [a._row for a in made] == [a._row for a in ref]
        for a, b in zip(made, ref, strict=True):
            assert {name: col[a._row].item() for name, col in many.provider_state.cols.items()} == {
                name: col[b._row].item() for name, col in one.provider_state.cols.items()}
            assert [getattr(a, s) for s in Provider.__slots__ if s != "_cols"] == [getattr(b, s) for s in Provider.__slots__ if s != "_cols"]
            assert a._cols is many.provider_state.cols and a.model is many and a in many.agents
    assert many.provider_state.size == one.provider_state.size

    class WithInit(Organisation):
        def __init__(self, model, **kwargs):
            super().__init__(model, **kwargs)

    with pytest.raises(TypeError, match="WithInit has its own __init__"):
        WithInit.create_many(many, 2, sector=0, municipality=0, staff_fte=1.0)


def test_the_roster_adds_a_batch_as_one_by_one():
    """Roster.add_many and remove_many against add and remove in a loop, through removals,
    compaction and growth, with batches that hold a provider registered already (it keeps
    its place) or twice."""
    rng = np.random.default_rng(1)
    batch, ref = Roster(capacity=4), Roster(capacity=4)
    for _ in range(400):
        uids = rng.integers(80, size=int(rng.integers(0, 12))).tolist()
        if rng.random() < 0.5:
            uids = [u for u in dict.fromkeys(uids) if u not in ref.entry]  # new ones only: the batch path
        rows = [3 * u + 1 for u in uids]
        batch.add_many(rows, uids)
        for row, uid in zip(rows, uids, strict=True):
            ref.add(row, uid)
        gone = rng.choice(list(ref.entry), size=min(len(ref.entry), int(rng.integers(0, 10))), replace=False).tolist()
        batch.remove_many(gone)  # Roster.remove_many against remove in a loop
        for uid in gone:
            ref.remove(uid)
        assert all((a == b).all() for a, b in zip(batch.arrays(), ref.arrays(), strict=True)) and batch.entry == ref.entry
    assert len(batch.entry) > 0


def test_prev_flows_are_rows_of_the_models_table():
    """Provider.prev_flows: last quarter's hours per demand cell, a row of
    ProviderState.prev_flows; None for a provider that served nobody."""
    model = TerritoryModel(smoke(steps=3), rng=2).run()
    cols, state = model.provider_state.cols, model.provider_state
    served = cols["served_hours"][model.flow_rows] > 0
    assert served.any()
    for p, row, did in zip(model.flow_providers, model.flow_matrix, served.tolist(), strict=True):
        if did:
            np.testing.assert_array_equal(p.prev_flows, row)
        else:
            assert p.prev_flows is None
    # A provider without flows that is given some (a merger's absorber) gets a new row;
    # given flows again, its row is overwritten; None drops them.
    idle = Organisation(model, sector=0, municipality=0, staff_fte=2.0)
    assert idle.prev_flows is None
    rows_before = len(state.prev_flows)
    flows = np.arange(state.prev_flows.shape[1], dtype=float)
    idle.prev_flows = flows
    assert len(state.prev_flows) == rows_before + 1
    np.testing.assert_array_equal(idle.prev_flows, flows)
    idle.prev_flows = idle.prev_flows + 1.0
    assert len(state.prev_flows) == rows_before + 1
    np.testing.assert_array_equal(idle.prev_flows, flows + 1.0)
    idle.prev_flows = None
    assert idle.prev_flows is None and cols["prev_flow_slot"][idle._row] == 0


def test_a_mergers_flows_leave_the_quarters_flow_matrix_alone():
    """flow_matrix is this quarter's hours served (ODD.md); when every provider served,
    ProviderState.prev_flows is that very array, and a merger's absorber given the sum of
    the two flows (cooperation.absorb) must not write it into flow_matrix."""
    model = TerritoryModel(smoke(steps=3), rng=3).run()  # quarters 0-2: no merger yet
    cols, state = model.provider_state.cols, model.provider_state
    served = cols["served_hours"][model.flow_rows]
    assert (served > 0).all() and state.prev_flows is model.flow_matrix  # the aliased case
    before = model.flow_matrix.copy()
    absorber = next(p for p in model.flow_providers if p.prev_flows is not None)
    absorber.prev_flows = absorber.prev_flows + 1.0
    np.testing.assert_array_equal(model.flow_matrix, before)
    np.testing.assert_array_equal(absorber.prev_flows, before[list(model.flow_providers).index(absorber)] + 1.0)
