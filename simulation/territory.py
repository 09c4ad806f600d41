"""The territory: municipalities on a road network, their population and social groups.

A territory is a value (a frozen dataclass) built from its parameters and a random
stream, so several can coexist later (supra-local cooperation, DESIGN.md 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .params import GROUPS, SECTORS, DemandParams, TerritoryParams


@dataclass(frozen=True)
class Territory:
    positions_km: np.ndarray  # (M, 2) coordinates of municipalities
    roads: nx.Graph  # municipalities linked to their nearest neighbours, edge weight km
    distance_km: np.ndarray  # (M, M) shortest road distance
    population: np.ndarray  # (M,) inhabitants
    need_profile: np.ndarray  # (M, G, S) hours/quarter before scaling to capacity

    @property
    def municipalities(self) -> int:
        return len(self.population)


def build_territory(tp: TerritoryParams, dp: DemandParams, rng: np.random.Generator) -> Territory:
    """Place municipalities, link them by road, give them people and needs.

    Distances are shortest paths on a k-nearest-neighbour road graph (networkx), not
    straight lines, so that a remote municipality is remote (economy of proximity).
    Population: total = organisations / (establishments per 1,000 inhabitants) * 1,000
    (FACTS.md [ess-size-2013]), split across municipalities by a lognormal weight (a
    central town and smaller villages).
    """
    m = tp.municipalities
    pos = rng.uniform(0.0, tp.side_km, size=(m, 2))
    roads = nx.Graph()
    roads.add_nodes_from(range(m))
    straight = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    k = min(tp.road_neighbours, m - 1)
    for i in range(m):
        for j in np.argsort(straight[i])[1 : k + 1]:
            roads.add_edge(i, int(j), km=float(straight[i, j]))
    # Join components so every municipality is reachable: shortest link between them.
    comps = [sorted(c) for c in nx.connected_components(roads)]
    while len(comps) > 1:
        a, b = comps[0], comps[1]
        sub = straight[np.ix_(a, b)]
        i, j = np.unravel_index(np.argmin(sub), sub.shape)
        roads.add_edge(a[i], b[j], km=float(sub[i, j]))
        comps = [sorted(c) for c in nx.connected_components(roads)]
    dist = np.zeros((m, m))
    for i, lengths in nx.all_pairs_dijkstra_path_length(roads, weight="km"):
        for j, d in lengths.items():
            dist[i, j] = d
    total_pop = tp.organisations / tp.establishments_per_1000_inhabitants * 1000.0
    weights = rng.lognormal(0.0, 0.8, size=m)
    population = total_pop * weights / weights.sum()
    shares = np.array([dp.group_shares[g] for g in GROUPS])
    per_person = np.array([[dp.need_hours_per_person_quarter[g][s] for s in SECTORS] for g in GROUPS])
    need = population[:, None, None] * shares[None, :, None] * per_person[None, :, :]
    return Territory(pos, roads, dist, population, need)
