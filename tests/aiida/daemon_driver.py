"""Run inside a subprocess by test_daemon.py: submit ClassifyStructuresWorkChain to a running daemon and check it.

Usage: ``python daemon_driver.py PROFILE MODEL_FILE N``; prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import sys
import time


def main(profile: str, model_file: str, n: int) -> dict:
    import numpy as np
    from aiida import load_profile, orm
    from aiida.engine import submit

    load_profile(profile)
    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.core import fingerprints
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.prototypes import prototype
    from aiida_crystalface.data.model import ConvNetModelData
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain

    rng = np.random.default_rng(0)
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po'), ('fcc', 'Al'), ('bcc', 'W')]
    base = [replicate(prototype(species, label), 64) for label, species in pairs]
    atomics = [
        base[i % len(base)].replace(
            positions=base[i % len(base)].positions + rng.normal(0, 0.03, (len(base[i % 6]), 3))
        )
        for i in range(n)
    ]
    structures = {f's{i:03d}': structure_data(a).store() for i, a in enumerate(atomics)}
    model = ConvNetModelData.get_or_create(model_file)
    node = submit(ClassifyStructuresWorkChain, structures=structures, model=model, batch_size=orm.Int(200))
    deadline = time.time() + 600
    while not node.is_terminated and time.time() < deadline:
        time.sleep(2)
    if not node.is_terminated:
        return {'error': f'ClassifyStructuresWorkChain<{node.pk}> did not finish in 600 s: {node.process_state}'}
    if not node.is_finished_ok:
        return {'error': f'exit {node.exit_status}: {node.exit_message}'}
    predictions = node.outputs.predictions
    classifier = Classifier.load(model_file)
    expected = classifier.predict(fingerprints(atomics, classifier.settings and None))
    keys = sorted(structures)
    worst = 0.0
    for key, row in zip(keys, expected, strict=True):
        got = np.array([predictions[key].probabilities[c] for c in classifier.classes])
        worst = max(worst, float(np.abs(got - row).max()))
    return {
        'n_predictions': len(predictions),
        'worst_difference': worst,
        'workers': sorted({c.computer.label if c.computer else 'local' for c in node.called}),
        'called': len(node.called),
        'pk': node.pk,
    }


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
