"""Launch the package's WorkChains on in-memory structures and dataset files, as the command line does.

:func:`classify_structures` is the fast path for many structures: they are stored in batches (one transaction each)
into a new Group, ``ClassifyStructuresWorkChain`` runs on the group with ``return_outputs=False`` (no output link per
structure), and the results are collected afterwards through
:func:`aiida_crystalface.provenance.predictions_of_workchain` (the lean form of ``classification_results``).
A structure identical to one already classified by the same model (same content hash) is not stored again: its stored
prediction is reported instead, unless ``force`` is set.

:func:`train_on_dataset_file` stores a dataset file and trains on it through ``TrainClassifierWorkChain``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import uuid as uuid_module
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from aiida import orm

__all__ = (
    'CONTENT_HASH_EXTRA',
    'ClassificationRun',
    'classify_structures',
    'content_hash',
    'prediction_result',
    'train_on_dataset_file',
)

#: Extra of every StructureData stored by :func:`classify_structures`: :func:`content_hash` of its structure.
CONTENT_HASH_EXTRA = 'crystalface_content_hash'

#: Digits (in angstrom) to which cell and positions are rounded before hashing: far below any physical difference.
HASH_DECIMALS = 6


@dataclasses.dataclass
class ClassificationRun:
    """What :func:`classify_structures` did, with one result per input structure, in input order.

    A result is ``{'label', 'probabilities', 'uuid'}`` (``uuid`` of the prediction node; ``uncertainty`` too when the
    node has one) or ``{'error'}``. ``reused`` says whether each result is an earlier, identical structure's.
    :func:`aiida_crystalface.provenance.prediction_provenance` of a result's ``uuid`` gives its structure, fingerprint
    and model.
    """

    workchain: orm.WorkflowNode | None
    group: orm.Group | None
    model: orm.Data
    classes: list[str]
    results: list[dict[str, Any]]
    reused: list[bool]

    @property
    def n_reused(self) -> int:
        return sum(self.reused)


def content_hash(structure: Any) -> str:
    """SHA-256 of a structure's content (cell, Cartesian positions rounded to 1e-6 angstrom, atomic numbers).

    The same file read twice gives the same hash; labels and file names play no part.
    """
    digest = hashlib.sha256()
    for array, dtype in ((structure.cell, np.float64), (structure.positions, np.float64)):
        rounded = np.round(np.asarray(array, dtype=dtype), HASH_DECIMALS) + 0.0  # + 0.0: -0.0 hashes as 0.0
        digest.update(np.ascontiguousarray(rounded).tobytes())
    digest.update(np.ascontiguousarray(np.asarray(structure.numbers, dtype=np.int64)).tobytes())
    return digest.hexdigest()


def prediction_result(node: orm.Data) -> dict[str, Any]:
    """``{'label', 'probabilities', 'uuid'[, 'uncertainty']}`` of a stored prediction node."""
    from aiida_crystalface.provenance import predicted_class

    attributes = node.base.attributes
    result = {
        'label': predicted_class(node),
        'probabilities': {str(k): float(v) for k, v in attributes.get('probabilities').items()},
        'uuid': node.uuid,
    }
    uncertainty = attributes.get('uncertainty', None)
    if uncertainty is not None:
        result['uncertainty'] = float(uncertainty)
    return result


def classify_structures(
    structures: Sequence[Any],
    *,
    model: orm.Data | None = None,
    group_prefix: str = 'crystalface/classify',
    batch_size: int = 500,
    force: bool = False,
    precision: str = 'float32',
    progress: Callable[[str, int, int], None] | None = None,
) -> ClassificationRun:
    """Store ``structures`` (internal form), classify them with provenance, and return one result per structure.

    :param model: a stored model node; default: the bundled model (stored once).
    :param group_prefix: the new structures go into a new group ``<group_prefix>/<date>-<time>-<random>``.
    :param batch_size: structures per storage transaction and per calcfunction.
    :param force: store and classify every structure anew, even one whose identical structure (:func:`content_hash`)
        is stored already. By default a structure is never stored twice: when ``model`` classified an identical one,
        its stored prediction is reported and nothing is run; when an identical one is stored but has no prediction by
        ``model`` (another model's, or a failure), that stored node is classified again.
    :param precision: of the network (``ClassifyStructuresWorkChain``'s ``precision``): ``'float32'``,
        ``'bfloat16'`` or ``'int8'``. A stored prediction is reused only where it was made at this precision.
    :param progress: called as ``progress(stage, done, total)`` while storing (stage ``'store'``, after each batch)
        and classifying (``'classify'``, before and after the WorkChain).
    """
    from aiida.engine import run_get_node
    from aiida.manage import get_manager
    from aiida.plugins import WorkflowFactory

    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.provenance import predictions_of_structures, predictions_of_workchain
    from aiida_crystalface.workflows.utils import bundled_model

    model = model if model is not None else bundled_model()
    if precision not in ('float32', 'bfloat16', 'int8'):
        raise ValueError(f'precision must be float32, bfloat16 or int8, not {precision!r}')
    if precision == 'int8' and not model.has_int8:
        raise ValueError(f'model<{model.pk}>: precision int8 needs the int8 parameters in the model file; it has none')
    hashes = [content_hash(structure) for structure in structures]
    results: list[dict[str, Any] | None] = [None] * len(structures)
    reused = [False] * len(structures)
    existing: dict[str, int] = {}  # content hash -> a stored structure of that content, reused instead of a copy
    if not force:
        stored = _structures_with_hashes(set(hashes))
        existing = {digest: pk for pk, digest in sorted(stored.items())}
        by_hash = {
            stored[pk]: prediction
            for pk, prediction in predictions_of_structures(stored, model, precision=precision).items()
        }
        for index, digest in enumerate(hashes):
            if digest in by_hash:
                results[index], reused[index] = prediction_result(by_hash[digest]), True
    # One new node per distinct content: the same structure twice in one call is stored and classified once.
    first_of_hash: dict[str, int] = {}
    for index, digest in enumerate(hashes):
        if results[index] is None:
            first_of_hash.setdefault(digest, index)
    todo = list(first_of_hash.values())
    workchain, group = None, None
    if todo:
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
        group = orm.Group(label=f'{group_prefix}/{stamp}-{uuid_module.uuid4().hex[:6]}').store()
        pks: dict[int, int] = {}
        storage = get_manager().get_profile_storage()
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            known = _load_structures([existing[hashes[i]] for i in chunk if hashes[i] in existing])
            with storage.transaction():
                nodes = []
                for index in chunk:
                    if hashes[index] in existing:  # stored before, never classified by this model: classify that one
                        nodes.append(known[existing[hashes[index]]])
                        continue
                    node = structure_data(structures[index])
                    node.base.extras.set(CONTENT_HASH_EXTRA, hashes[index])
                    nodes.append(node.store())
                group.add_nodes(nodes)
            pks.update({index: node.pk for index, node in zip(chunk, nodes, strict=True)})
            if progress is not None:
                progress('store', start + len(chunk), len(todo))
        if progress is not None:
            progress('classify', 0, len(todo))
        _, workchain = run_get_node(
            WorkflowFactory('crystalface.classify'),
            group=orm.Str(group.uuid),
            model=model,
            batch_size=orm.Int(batch_size),
            return_outputs=orm.Bool(False),
            **({} if precision == 'float32' else {'precision': orm.Str(precision)}),
        )
        if progress is not None:
            progress('classify', len(todo), len(todo))
        found = predictions_of_workchain(workchain)
        failures = _failures(workchain)
        for index in todo:
            name = f'structure_{pks[index]}'
            prediction = found.get(name)
            if prediction is None:
                reason = failures.get(name) or f'not classified (see `verdi process report {workchain.pk}`)'
                results[index] = {'error': reason}
            else:
                results[index] = prediction_result(prediction)
    for index, digest in enumerate(hashes):
        if results[index] is None:  # a repeat of a structure earlier in this call
            first = first_of_hash[digest]
            results[index] = results[first]
            reused[index] = 'error' not in results[first]
    classes = list(model.base.attributes.get('classes', []))
    return ClassificationRun(workchain, group, model, classes, list(results), reused)


def _structures_with_hashes(hashes: set[str]) -> dict[int, str]:
    """pk -> content hash of the stored StructureData whose :data:`CONTENT_HASH_EXTRA` is one of ``hashes``."""
    found: dict[int, str] = {}
    ordered = sorted(hashes)
    for start in range(0, len(ordered), 500):
        builder = orm.QueryBuilder().append(
            orm.StructureData,
            filters={f'extras.{CONTENT_HASH_EXTRA}': {'in': ordered[start : start + 500]}},
            project=['id', f'extras.{CONTENT_HASH_EXTRA}'],
        )
        found.update(dict(builder.all()))
    return found


def _load_structures(pks: list[int]) -> dict[int, orm.StructureData]:
    """pk -> StructureData, in one query."""
    if not pks:
        return {}
    builder = orm.QueryBuilder().append(orm.StructureData, filters={'id': {'in': sorted(set(pks))}}, project='*')
    return {node.pk: node for node in builder.all(flat=True)}


def _failures(node: orm.WorkflowNode) -> dict[str, str]:
    """Input name -> reason, for every input the WorkChain could not classify (without a leading ``name:``)."""
    failures = node.outputs.failures.get_dict() if 'failures' in node.outputs else {}
    out = {}
    for key, message in failures.items():
        text = str(message)
        out[str(key)] = text[len(f'{key}: ') :] if text.startswith(f'{key}: ') else text
    return out


def train_on_dataset_file(dataset: str | Path, output_dir: str | Path, hyperparameters: dict[str, Any]):
    """Store a dataset file, train on it through ``TrainClassifierWorkChain`` (its ``crystalface.train`` CalcJob on
    this machine), and write ``model.safetensors`` and ``metrics.json`` to ``output_dir``.

    :returns: ``(workchain node, model node, metrics dict)``.
    :raises RuntimeError: when the training failed (the message says where to look).
    """
    from aiida.engine import run_get_node
    from aiida.manage import get_manager

    from aiida_crystalface.calculations.train import get_local_code
    from aiida_crystalface.data.dataset import FingerprintDatasetData
    from aiida_crystalface.workflows.train import TrainClassifierWorkChain

    profile = get_manager().get_profile()
    config_dir = Path(get_manager().get_config().dirpath)
    code = get_local_code(workdir=training_workdir(config_dir, profile.name))
    dataset_node = FingerprintDatasetData(file=Path(dataset).resolve()).store()
    outputs, node = run_get_node(
        TrainClassifierWorkChain,
        dataset=dataset_node,
        training={'parameters': orm.Dict(hyperparameters), 'code': code},
    )
    if not node.is_finished_ok:
        raise RuntimeError(
            f'the training {node.process_label}<{node.pk}> failed: exit status {node.exit_status}: {node.exit_message} '
            f'(see `verdi process report {node.pk}`)'
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model = outputs['model']
    with model.open(mode='rb') as handle:
        (output_dir / 'model.safetensors').write_bytes(handle.read())
    metrics = outputs['metrics'].get_dict()
    (output_dir / 'metrics.json').write_text(json.dumps(metrics, indent=2))
    return node, model, metrics


def training_workdir(config_dir: Path, profile_name: str) -> Path:
    """The folder under which the training CalcJobs of :func:`train_on_dataset_file` run on this machine."""
    return Path(config_dir) / 'scratch' / profile_name / 'crystalface'
