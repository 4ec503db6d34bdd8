"""Skeleton graphs for the GCN backbones: MMAction2's ``Graph`` (layouts, partition strategies).

A layout is a joint count, its bones (undirected joint pairs, 0-based) and a centre joint. A
strategy turns the bones into ``A`` (K, V, V), one normalised adjacency per partition, which
a graph convolution mixes the joints with. Everything is numpy and computed once per config;
``adjacency`` caches it so a jitted model reads a constant.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np


class Layout(NamedTuple):
  num_node: int
  bones: tuple[tuple[int, int], ...]  # 0-based (child, parent) pairs, MMAction2's order
  center: int
  directed: bool  # MMAction2 keeps self/neighbour links (the 'agcn' strategy's input)


def _zero_based(pairs) -> tuple[tuple[int, int], ...]:
  return tuple((i - 1, j - 1) for i, j in pairs)


# OpenPose 18/25 (BODY_18 / BODY_25 keypoints), NTU RGB+D's 25 Kinect joints, its 24-bone
# "edge" graph, and COCO's 17 keypoints.
LAYOUTS = {
    "openpose-18": Layout(18, ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9),
                               (9, 8), (11, 5), (8, 2), (5, 1), (2, 1), (0, 1), (15, 0),
                               (14, 0), (17, 15), (16, 14)), 1, False),
    "openpose-25": Layout(25, ((4, 3), (3, 2), (7, 6), (6, 5), (23, 22), (22, 11), (24, 11),
                               (11, 10), (10, 9), (9, 8), (20, 19), (19, 14), (21, 14),
                               (14, 13), (13, 12), (12, 8), (8, 1), (5, 1), (2, 1), (0, 1),
                               (15, 0), (16, 0), (17, 15), (18, 16)), 1, True),
    "ntu-rgb+d": Layout(25, _zero_based(
        ((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
         (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
         (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12))), 20, True),
    "ntu_edge": Layout(24, _zero_based(
        ((1, 2), (3, 2), (4, 3), (5, 2), (6, 5), (7, 6), (8, 7), (9, 2), (10, 9), (11, 10),
         (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
         (20, 19), (21, 22), (22, 8), (23, 24), (24, 12))), 2, False),
    "coco": Layout(17, _zero_based(
        ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (8, 6),
         (9, 7), (10, 8), (11, 9), (2, 3), (2, 1), (3, 1), (4, 2), (5, 3), (4, 6), (5, 7))),
        0, False),
}
STRATEGIES = ("uniform", "distance", "spatial", "agcn")


def hop_distance(num_node: int, edges, max_hop: int = 1) -> np.ndarray:
  """(V, V) graph distance between joints, ``inf`` beyond ``max_hop``."""
  adj = np.zeros((num_node, num_node))
  for i, j in edges:
    adj[i, j] = adj[j, i] = 1
  reach = np.stack([np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)])
  dist = np.full((num_node, num_node), np.inf)
  for d in range(max_hop, -1, -1):  # the shortest hop count wins
    dist[reach[d]] = d
  return dist


def normalize_digraph(adj: np.ndarray) -> np.ndarray:
  """Each column divided by its sum (columns summing to 0 stay 0)."""
  deg = adj.sum(axis=0)
  inv = np.divide(1.0, deg, out=np.zeros_like(deg, dtype=float), where=deg > 0)
  return adj * inv[None, :]


def links_matrix(links, num_node: int) -> np.ndarray:
  """A[j, i] = 1 for every link (i, j)."""
  a = np.zeros((num_node, num_node))
  for i, j in links:
    a[j, i] = 1
  return a


class Graph:
  """MMAction2's skeleton ``Graph``: ``A`` (K, V, V) float64, K partitions of V joints.

  layout: 'openpose-18', 'openpose-25', 'ntu-rgb+d', 'ntu_edge' or 'coco'.
  strategy: 'uniform' (K=1, the normalised adjacency within ``max_hop``), 'distance' (one
  partition per hop), 'spatial' (root / closer to / further from the centre joint, per hop) or
  'agcn' (self links, inward and outward bones: 2s-AGCN; MMAction2 defines it for the layouts
  with directed links, 'openpose-25' and 'ntu-rgb+d').
  max_hop / dilation: the hops 0, dilation, 2 * dilation, ... <= max_hop are connected.
  """

  def __init__(self, layout: str = "openpose-18", strategy: str = "uniform", max_hop: int = 1,
               dilation: int = 1):
    if layout not in LAYOUTS:
      raise ValueError(f"graph layout {layout!r} is not supported; use one of {list(LAYOUTS)}")
    if strategy not in STRATEGIES:
      raise ValueError(f"graph strategy {strategy!r} is not supported; use one of "
                       f"{list(STRATEGIES)}")
    self.layout, self.strategy = layout, strategy
    self.max_hop, self.dilation = max_hop, dilation
    spec = LAYOUTS[layout]
    self.num_node, self.center = spec.num_node, spec.center
    self.self_link = [(i, i) for i in range(self.num_node)]
    self.neighbor_link = list(spec.bones)
    self.edge = self.self_link + self.neighbor_link
    self.hop_dis = hop_distance(self.num_node, self.edge, max_hop)
    self.A = self._adjacency(strategy, spec.directed)

  def _adjacency(self, strategy: str, directed: bool) -> np.ndarray:
    hops = range(0, self.max_hop + 1, self.dilation)
    within = np.isin(self.hop_dis, list(hops))
    norm = normalize_digraph(within.astype(float))
    if strategy == "uniform":
      return norm[None]
    if strategy == "distance":
      return np.stack([np.where(self.hop_dis == h, norm, 0.0) for h in hops])
    if strategy == "spatial":
      to_center = self.hop_dis[:, self.center]
      d_row, d_col = to_center[:, None], to_center[None, :]  # A[j, i]: j's and i's distance
      parts = []
      for h in hops:
        at_hop = self.hop_dis == h
        root = np.where(at_hop & (d_row == d_col), norm, 0.0)
        close = np.where(at_hop & (d_row > d_col), norm, 0.0)
        further = np.where(at_hop & ~(d_row == d_col) & ~(d_row > d_col), norm, 0.0)
        parts += [root] if h == 0 else [root + close, further]
      return np.stack(parts)
    # 'agcn'
    if not directed:
      raise ValueError(f"graph strategy 'agcn' needs a layout with directed links "
                       f"('openpose-25' or 'ntu-rgb+d', as in MMAction2), got {self.layout!r}")
    inward = normalize_digraph(links_matrix(self.neighbor_link, self.num_node))
    outward = normalize_digraph(links_matrix([(j, i) for i, j in self.neighbor_link],
                                             self.num_node))
    return np.stack((links_matrix(self.self_link, self.num_node), inward, outward))


@functools.lru_cache(maxsize=None)
def _cached(layout, strategy, max_hop, dilation) -> np.ndarray:
  a = Graph(layout, strategy, max_hop, dilation).A
  a.setflags(write=False)
  return a


def adjacency(graph_cfg) -> np.ndarray:
  """``Graph(**graph_cfg).A``, computed once per configuration (read-only)."""
  cfg = dict(graph_cfg)
  unknown = sorted(set(cfg) - {"layout", "strategy", "max_hop", "dilation"})
  if unknown:
    raise TypeError(f"graph_cfg keys {unknown} are not Graph arguments (layout, strategy, "
                    "max_hop, dilation)")
  return _cached(cfg.get("layout", "openpose-18"), cfg.get("strategy", "uniform"),
                 int(cfg.get("max_hop", 1)), int(cfg.get("dilation", 1)))
