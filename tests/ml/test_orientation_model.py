"""The bundled model on defective structures given in any cell and orientation (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_crystalface.core.diffraction import fingerprint_batch
from aiida_crystalface.core.presentations import defective_presentations
from aiida_crystalface.ml import Classifier

# (species, class, conventional repeats of the defective supercell: at least 108 sites)
CRYSTALS = [('Cu', 'fcc', 3), ('Ni', 'fcc', 3), ('Si', 'diamond', 3), ('Ge', 'diamond', 3), ('Fe', 'bcc', 4),
            ('Mo', 'bcc', 4), ('Po', 'sc', 5)]  # fmt: skip


@pytest.fixture(scope='module')
def model():
    return Classifier.pretrained('open-4class')


@pytest.mark.parametrize(('vacancy', 'sigma'), [(0.1, 0.0), (0.5, 0.0), (0.0, 0.15), (0.5, 0.15)])
def test_same_correct_label_in_every_presentation(model, vacancy, sigma):
    structures, labels = [], []
    for species, label, repeats in CRYSTALS:
        items = defective_presentations(species, label, repeats, vacancy, sigma, seed=7)
        structures.extend(items.values())
        labels.extend([label] * len(items))
    result = fingerprint_batch(structures)
    assert result.ok == list(range(len(structures)))
    predicted = np.array(model.classes)[model.predict(result.images).argmax(axis=1)]
    wrong = [(s.label, p) for s, p, t in zip(structures, predicted, labels, strict=True) if p != t]
    assert not wrong, wrong
