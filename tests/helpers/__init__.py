"""Helpers shared by the test tiers (tests import these, never each other's functions).

- ``atlases``: the tiny ViT, building atlases with the real CLI, brute-force projections, whole-atlas
  comparisons, killed-and-resumed and two-rank runs.
- ``backend``: the service's app factory protocol, a real Redis server, counting analysers, waits on
  conditions.
- ``clock``: a clock that moves only when told.
- ``o3_images``: synthetic Odd-One-Out images with exact masks.
- ``pruned``: pruned and dead heads in the tiny ViT.
"""
