"""AiiDA Data plugins: fingerprint images, trained ConvNet models, classifications (per structure and per atom) and
datasets.

The classes are registered as ``crystalface.*`` entry points in the ``aiida.data`` group; importing this package
imports aiida but never torch.
"""

from .classification import ClassificationData
from .dataset import FingerprintDatasetData
from .fingerprint import FingerprintData
from .local import LocalClassificationData
from .model import ConvNetModelData

__all__ = (
    'ClassificationData',
    'ConvNetModelData',
    'FingerprintData',
    'FingerprintDatasetData',
    'LocalClassificationData',
)
