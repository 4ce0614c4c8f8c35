"""The ConvNet classifier in torch + Lightning: network, training, the Classifier file format, explanations.

Never imports aiida. Names are resolved lazily so that ``from aiida_crystalface.ml import Classifier`` costs nothing
until a model is loaded, and ``import aiida_crystalface.ml`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    'Classifier': 'classifier',
    'ModelFileError': 'classifier',
    'SettingsMismatchError': 'classifier',
    'ConvNet': 'convnet',
    'train_classifier': 'training',
    'TrainingResult': 'training',
    'attentive_response_maps': 'explain',
    'class_templates': 'explain',
    'explain_image': 'explain',
}

__all__ = tuple(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}') from None
    return getattr(importlib.import_module(f'{__name__}.{module}'), name)


def __dir__() -> list[str]:
    return sorted(__all__)
