"""Fixtures of the AiiDA-layer tests: a model file, its node, structures as StructureData."""

from __future__ import annotations

import numpy as np
import pytest

CLASSES = ['fcc', 'diamond', 'bcc', 'sc']


@pytest.fixture(scope='session')
def model_file(tmp_path_factory):
    """A ConvNet model file with seeded random weights: these tests check provenance, not accuracy."""
    import torch

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.ml.convnet import ConvNet

    torch.manual_seed(0)
    classifier = Classifier(ConvNet(len(CLASSES)), CLASSES, FingerprintSettings(), metadata={'metrics': {'x': 1.0}})
    return classifier.save(tmp_path_factory.mktemp('model') / 'model.safetensors')


@pytest.fixture
def model_node(aiida_profile, model_file):
    from aiida_crystalface.data.model import ConvNetModelData

    return ConvNetModelData.get_or_create(model_file)


@pytest.fixture
def generate_structure(aiida_profile):
    """Factory: an elemental prototype (``'fcc'``, ``'bcc'``, ...) as a stored StructureData."""

    def factory(label: str = 'fcc', species: str = 'Cu', store: bool = True):
        from aiida_crystalface.calculations.utils import structure_data
        from aiida_crystalface.core.prototypes import prototype

        node = structure_data(prototype(species, label))
        return node.store() if store else node

    return factory


@pytest.fixture
def bad_structures(aiida_profile):
    """Bad inputs that AiiDA stores but that cannot be fingerprinted: an empty structure, an unknown element and two
    atoms on top of each other. (NaN coordinates never get this far: AiiDA refuses to store them.)"""
    from aiida import orm

    empty = orm.StructureData(cell=(np.eye(3) * 3.0).tolist())
    overlap = orm.StructureData(cell=(np.eye(3) * 3.6).tolist())
    overlap.append_atom(position=(0.0, 0.0, 0.0), symbols='Cu')
    overlap.append_atom(position=(0.0, 0.0, 0.01), symbols='Cu')
    unknown = orm.StructureData(cell=(np.eye(3) * 3.0).tolist())
    unknown.append_atom(position=(0.0, 0.0, 0.0), symbols='X')
    return {'empty': empty.store(), 'overlapping_atoms': overlap.store(), 'unknown_element': unknown.store()}
