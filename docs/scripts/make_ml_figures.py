"""Draw the figures of docs/ml.md: attentive response maps of one fcc fingerprint and the four class templates.

Run: ``.venv/bin/python docs/scripts/make_ml_figures.py PRISTINE.h5`` (the set of ``build_pristine_dataset(path,
seed=0)``); writes ``docs/_static/ml_attentive_maps_fcc.png`` and ``docs/_static/ml_class_templates.png``.
"""

import sys
from pathlib import Path

import numpy as np

from aiida_crystalface.core.datasets import open_dataset
from aiida_crystalface.ml import Classifier
from aiida_crystalface.ml.explain import class_templates, explain_image, save_class_templates_png

STATIC = Path(__file__).resolve().parent.parent / '_static'


def main(path: str) -> None:
    classifier = Classifier.pretrained()
    with open_dataset(path) as dataset:
        to_model = np.array([classifier.classes.index(c) for c in dataset.classes])
        labels = to_model[dataset.labels]
        rng = np.random.default_rng(0)
        picks = [rng.choice(np.flatnonzero(labels == c), 200, replace=False) for c in range(4)]
        chosen = np.sort(np.concatenate(picks))
        images = dataset.get_images(chosen)
    fcc = images[labels[chosen] == classifier.classes.index('fcc')][0]
    explain_image(classifier, fcc, STATIC / 'ml_attentive_maps_fcc.png')
    templates, counts = class_templates(classifier, images, labels[chosen])
    save_class_templates_png(templates, classifier.classes, STATIC / 'ml_class_templates.png', counts)


if __name__ == '__main__':
    main(sys.argv[1])
