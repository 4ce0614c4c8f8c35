"""The convolutional neural network of Table 1 of the paper (Ziletti et al., "The face of crystals").

Six 7 x 7 convolutions with 32, 16, 12, 12, 8 and 8 filters ('same' padding, ReLU), 2 x 2 max-pooling (stride 2)
after the second and the fourth, a dense layer of 128 units (ReLU) with 25 % dropout and a final linear layer to the
classes. The network returns logits; the softmax is applied at prediction (:class:`~aiida_crystalface.ml.Classifier`)
and training uses cross-entropy on the logits, which is the same model and numerically safer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (the torch convention)

__all__ = ('ConvNet', 'Ensemble', 'he_initialise', 'network_from_config')

TABLE_1_FILTERS = (32, 16, 12, 12, 8, 8)
POOL_AFTER = (1, 3)
"""Indices of the convolutions followed by a 2 x 2 max-pooling."""


class ConvNet(nn.Module):
    """The ConvNet of Table 1, for ``image_size`` x ``image_size`` fingerprints of ``in_channels`` channels.

    :param n_classes: number of output classes.
    :param image_size: side of the square input image in pixels; must be divisible by 4 (two poolings).
    :param filters: number of filters of each of the six convolutions.
    :param kernel_size: side of the (odd) convolution kernels.
    :param dense: width of the fully connected hidden layer.
    :param dropout: dropout probability after the hidden layer.
    :param in_channels: channels of the input image: 1 (the paper's fingerprint) or 3 (the three-rotation fingerprint
        of ``FingerprintSettings(channels=3)``); only the first convolution changes. Stored in :attr:`config` only when
        it is not 1, so that the paper's models keep their stored architecture.
    """

    def __init__(
        self,
        n_classes: int,
        image_size: int = 64,
        *,
        filters: Sequence[int] = TABLE_1_FILTERS,
        kernel_size: int = 7,
        dense: int = 128,
        dropout: float = 0.25,
        in_channels: int = 1,
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f'n_classes must be at least 2, not {n_classes}')
        if image_size <= 0 or image_size % 4:
            raise ValueError(f'image_size must be a positive multiple of 4 (two 2x2 poolings), not {image_size}')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd for "same" padding, not {kernel_size}')
        if isinstance(in_channels, bool) or int(in_channels) != in_channels or in_channels < 1:
            raise ValueError(f'in_channels must be a positive integer, not {in_channels!r}')
        if len(filters) != 6:
            raise ValueError(f'filters must list six convolutions (Table 1), not {len(filters)}')
        self.config = {
            'name': 'ConvNet',
            'n_classes': int(n_classes),
            'image_size': int(image_size),
            'filters': [int(f) for f in filters],
            'kernel_size': int(kernel_size),
            'dense': int(dense),
            'dropout': float(dropout),
        }
        if in_channels != 1:
            self.config['in_channels'] = int(in_channels)
        channels = [int(in_channels), *self.config['filters']]
        self.convs = nn.ModuleList(
            nn.Conv2d(channels[i], channels[i + 1], kernel_size, padding=kernel_size // 2) for i in range(6)
        )
        flat = channels[-1] * (image_size // 4) ** 2
        self.hidden = nn.Linear(flat, dense)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(dense, n_classes)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConvNet:
        """Rebuild a network from its :attr:`config` dictionary (as stored in a model file)."""
        if config.get('name') != 'ConvNet':
            raise ValueError(f'unknown architecture {config.get("name")!r}')
        kwargs = {key: config[key] for key in ('filters', 'kernel_size', 'dense', 'dropout')}
        return cls(config['n_classes'], config['image_size'], in_channels=int(config.get('in_channels', 1)), **kwargs)

    @property
    def image_size(self) -> int:
        return self.config['image_size']

    @property
    def in_channels(self) -> int:
        return int(self.config.get('in_channels', 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The convolutional part: (N, in_channels, H, W) -> (N, filters[-1], H / 4, W / 4)."""
        for index, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if index in POOL_AFTER:
                x = F.max_pool2d(x, 2, 2)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes) for images (N, in_channels, H, W)."""
        x = torch.flatten(self.features(x), 1)
        x = self.dropout(F.relu(self.hidden(x)))
        return self.output(x)


class Ensemble(nn.Module):
    """Networks of the same outputs and input, answering together.

    ``combine='geometric'`` (the default, and the reading of files that do not say): the mean of the members'
    log-probabilities, the log of their normalised geometric mean. An outsider one member takes for a class the other
    gives ``other`` loses confidence in the product (docs/bulk.md, "Measured"); but where the members agree that a
    crystal is a member and part only on which of two classes, the product takes mass from both and, normalised,
    gives it to ``other``. ``combine='arithmetic'``: the log of the mean of their probabilities (a mixture, as in
    deep ensembles), which keeps the mass the members agree on. Either way the output is read as logits by the rest
    of the pipeline (temperature, threshold, the lattice rules). Inference costs one pass per member.
    """

    COMBINES = ('geometric', 'arithmetic')

    def __init__(self, nets: Sequence[ConvNet], combine: str = 'geometric') -> None:
        super().__init__()
        nets = list(nets)
        if len(nets) < 2:
            raise ValueError(f'an ensemble needs at least two networks, not {len(nets)}')
        if combine not in self.COMBINES:
            raise ValueError(f'combine must be one of {self.COMBINES}, not {combine!r}')
        keys = ('n_classes', 'image_size', 'in_channels')
        shapes = {tuple(net.config.get(k, 1) for k in keys) for net in nets}
        if len(shapes) != 1:
            raise ValueError(f'the networks of an ensemble must share {", ".join(keys)}; got {sorted(shapes)}')
        self.members = nn.ModuleList(nets)
        self.combine = combine
        first = nets[0].config
        self.config = {
            'name': 'Ensemble',
            'members': [dict(net.config) for net in nets],
            **{k: first.get(k, 1) for k in keys},
        }
        if combine != 'geometric':  # files written before the choice existed are geometric and keep their config
            self.config['combine'] = combine

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ensemble:
        if config.get('name') != 'Ensemble' or not isinstance(config.get('members'), list):
            raise ValueError(f'not an ensemble architecture: {config.get("name")!r}')
        return cls([ConvNet.from_config(member) for member in config['members']], config.get('combine', 'geometric'))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The combined log-probabilities (N, n_classes) of the members (normalised for ``'arithmetic'``; up to a
        constant per row for ``'geometric'``)."""
        logs = torch.stack([F.log_softmax(member(x), dim=1) for member in self.members])
        if self.combine == 'arithmetic':
            return torch.logsumexp(logs, dim=0) - math.log(len(self.members))
        return logs.mean(dim=0)


def network_from_config(config: dict[str, Any]) -> nn.Module:
    """A :class:`ConvNet` or an :class:`Ensemble` from the ``architecture`` record of a model file."""
    if isinstance(config, dict) and config.get('name') == 'Ensemble':
        return Ensemble.from_config(config)
    return ConvNet.from_config(config)


def he_initialise(net: nn.Module, seed: int | None = None) -> nn.Module:
    """Give every convolution and linear layer He (Kaiming) normal weights for ReLU and zero biases; returns ``net``.

    PyTorch's default initialisation shrinks the signal through each of the six ReLU convolutions (no normalisation
    layers), and on the 60-output bulk set training sat at the plateau where every image gets the majority output
    (train accuracy 21 % = always ``other``, four epochs, Table 1's widths and the widened ones alike); with this
    initialisation the first epoch reaches 89 % (docs/bulk.md). ``seed``: draw from a generator of that seed instead
    of the global one. The paper's models keep PyTorch's default (their training is reproduced as it was).
    """
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            with torch.no_grad():
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                module.bias.zero_()
    return net
