"""Run inside a subprocess by test_daemon.py: submit ClassifyStructuresWorkChain to a running daemon and check it.

Usage: ``python daemon_driver.py PROFILE MODEL_FILE N BATCH_SIZE [--kill]``. With ``--kill``, every daemon worker is
killed with SIGKILL once the first batches are stored (the daemon's supervisor starts new ones). Prints one JSON
object on the last line of stdout.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import time

DEADLINE = 600


def _per_structure(workchain, process_label: str, cls) -> dict[str, int]:
    """Input name -> number of ``cls`` outputs made for it by the ``process_label`` calcfunctions of ``workchain``."""
    from aiida import orm
    from aiida.common.links import LinkType

    builder = orm.QueryBuilder()
    builder.append(orm.WorkflowNode, filters={'id': workchain.pk}, tag='wc')
    builder.append(
        orm.CalcFunctionNode, with_incoming='wc', filters={'attributes.process_label': process_label}, tag='calc'
    )
    builder.append(cls, with_incoming='calc', edge_filters={'type': LinkType.CREATE.value}, edge_project='label')
    return dict(collections.Counter(builder.all(flat=True)))


def _finished_batches(workchain) -> int:
    from aiida import orm

    builder = orm.QueryBuilder()
    builder.append(orm.WorkflowNode, filters={'id': workchain.pk}, tag='wc')
    builder.append(
        orm.CalcFunctionNode,
        with_incoming='wc',
        filters={'attributes.process_label': 'predict', 'attributes.exit_status': 0},
    )
    return builder.count()


def _kill_workers() -> list[int]:
    from aiida.engine.daemon.client import get_daemon_client

    pids = sorted(int(pid) for pid in get_daemon_client().get_worker_info().get('info', {}))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def main(profile: str, model_file: str, n: int, batch_size: int, kill: bool) -> dict:
    import numpy as np
    from aiida import load_profile, orm
    from aiida.engine import submit

    load_profile(profile)
    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.core import fingerprints
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.prototypes import prototype
    from aiida_crystalface.data import ClassificationData, FingerprintData
    from aiida_crystalface.data.model import ConvNetModelData
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.provenance import classification_results
    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
    from aiida_crystalface.workflows.utils import batches, one_transaction

    rng = np.random.default_rng(0)
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po'), ('fcc', 'Al'), ('bcc', 'W')]
    base = [replicate(prototype(species, label), 64) for label, species in pairs]
    atomics = [
        base[i % len(base)].replace(
            positions=base[i % len(base)].positions + rng.normal(0, 0.03, base[i % len(base)].positions.shape)
        )
        for i in range(n)
    ]
    group = orm.Group(label=f'daemon-test-{n}').store()
    pks = []
    for batch in batches(dict(enumerate(atomics)), 500):
        with one_transaction():
            nodes = [structure_data(a).store() for a in batch.values()]
            group.add_nodes(nodes)
        pks.extend(node.pk for node in nodes)
    model = ConvNetModelData.get_or_create(model_file)
    node = submit(
        ClassifyStructuresWorkChain,
        group=orm.Str(group.label),
        model=model,
        batch_size=orm.Int(batch_size),
        return_outputs=orm.Bool(False),
    )
    report: dict = {'pk': node.pk}
    deadline = time.time() + DEADLINE
    if kill:
        while _finished_batches(node) < 2 and not node.is_terminated and time.time() < deadline:
            time.sleep(0.2)
        report['batches_before_kill'] = _finished_batches(node)
        report['terminated_at_kill'] = node.is_terminated
        report['killed'] = _kill_workers()
    while not node.is_terminated and time.time() < deadline:
        time.sleep(1)
    if not node.is_terminated:
        return {**report, 'error': f'ClassifyStructuresWorkChain<{node.pk}> did not finish in {DEADLINE} s'}
    if not node.is_finished_ok:
        return {**report, 'error': f'exit {node.exit_status}: {node.exit_message}'}
    if kill:
        from aiida.engine.daemon.client import get_daemon_client

        report['workers_after'] = sorted(int(p) for p in get_daemon_client().get_worker_info().get('info', {}))
    names = {f'structure_{pk}' for pk in pks}
    fingerprint_counts = _per_structure(node, 'compute_fingerprints', FingerprintData)
    prediction_counts = _per_structure(node, 'predict', ClassificationData)
    report['missing_fingerprints'] = len(names - set(fingerprint_counts))
    report['missing_predictions'] = len(names - set(prediction_counts))
    report['fingerprints_per_structure'] = dict(collections.Counter(fingerprint_counts.values()))
    report['predictions_per_structure'] = dict(collections.Counter(prediction_counts.values()))
    report['unfinished_calcfunctions'] = sum(not calc.is_terminated for calc in node.called)
    report['called'] = len(node.called)
    found = classification_results(node)
    classifier = Classifier.load(model_file)
    expected = classifier.predict(fingerprints(atomics, None))
    worst = 0.0
    for pk, row in zip(pks, expected, strict=True):
        prediction = found[f'structure_{pk}']['prediction']
        got = np.array([prediction.probabilities[c] for c in classifier.classes])
        worst = max(worst, float(np.abs(got - row).max()))
    report['worst_difference'] = worst
    return report


if __name__ == '__main__':
    profile, model_file, n, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(main(profile, model_file, n, batch_size, kill='--kill' in sys.argv[5:])))
