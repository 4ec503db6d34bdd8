"""Skeleton-based recognition: the joint graphs and the SkeletonGCN recognizer."""

from vjax.models.skeleton.graph import Graph, adjacency
from vjax.models.skeleton.skeleton_gcn import SkeletonGCN
