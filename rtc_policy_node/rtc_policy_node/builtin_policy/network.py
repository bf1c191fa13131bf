"""The denoiser of the built-in policy: an observation encoder and a per-action-time chunk MLP."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

TIME_FREQUENCIES = (1.0, 2.0, 4.0)


class ObservationEncoder(nn.Module):
    """Camera image (B, 3, H, W) in [0, 1] and normalised state (B, S) -> conditioning (B, F + S)."""

    def __init__(self, image_shape: tuple[int, int, int], downsample: int, feature_dim: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.pool = nn.AvgPool2d(downsample) if downsample > 1 else nn.Identity()
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 16, 5, stride=2, padding=2),
            nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(self.pool(torch.zeros(1, channels, height, width))).shape[1]
        self.project = nn.Sequential(nn.Linear(flat, feature_dim), nn.SiLU())

    def forward(self, image: Tensor, state: Tensor) -> Tensor:
        features = self.project(self.convs(self.pool(image - 0.5)))
        return torch.cat([features, state], dim=-1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def time_features(times: Tensor) -> Tensor:
    """Per-action flow times (B, H) -> (B, H * (1 + 2 * len(TIME_FREQUENCIES)))."""
    angles = times[..., None] * (math.pi / 2) * times.new_tensor(TIME_FREQUENCIES)
    return torch.cat([times[..., None], torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


def cosine_basis(chunk_size: int, size: int) -> Tensor:
    """The first `size` orthonormal DCT-II vectors over a chunk, (chunk_size, size): slow cosines only."""
    rows = torch.arange(chunk_size, dtype=torch.float64)[:, None] + 0.5
    basis = torch.cos(math.pi * rows * torch.arange(size, dtype=torch.float64)[None, :] / chunk_size)
    basis[:, 0] /= math.sqrt(2.0)
    return (basis * math.sqrt(2.0 / chunk_size)).float()


class ChunkDenoiser(nn.Module):
    """x_t, per-action times, conditioning -> the predicted clean chunk (B, H, A).

    The prediction is a combination of the `basis_size` slowest cosines over the chunk per joint, so
    every chunk the policy outputs is smooth by construction: the network cannot put tick-to-tick
    jitter into its actions, only motion that varies over several ticks.
    """

    def __init__(
        self, chunk_size: int, action_dim: int, cond_dim: int, hidden_dim: int, num_blocks: int, basis_size: int
    ) -> None:
        super().__init__()
        self.chunk_size = chunk_size
        self.action_dim = action_dim
        self.basis_size = basis_size
        in_dim = chunk_size * action_dim + chunk_size * (1 + 2 * len(TIME_FREQUENCIES)) + cond_dim
        self.inp = nn.Linear(in_dim, hidden_dim)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden_dim) for _ in range(num_blocks)])
        self.out = nn.Sequential(nn.LayerNorm(hidden_dim), nn.Linear(hidden_dim, basis_size * action_dim))
        self.register_buffer("basis", cosine_basis(chunk_size, basis_size), persistent=False)

    def forward(self, x_t: Tensor, times: Tensor, cond: Tensor) -> Tensor:
        h = self.inp(torch.cat([x_t.flatten(1), time_features(times), cond], dim=-1))
        coefficients = self.out(self.blocks(h)).view(-1, self.basis_size, self.action_dim)
        return self.basis @ coefficients
