"""ClassifyStructuresWorkChain: structures (or a Group of them) -> fingerprints -> predictions, one batch per step."""

from __future__ import annotations

import collections

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, while_

from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
from aiida_crystalface.calculations.functions.merge_failures import merge_failures
from aiida_crystalface.calculations.functions.predict import predict
from aiida_crystalface.data.classification import ClassificationData
from aiida_crystalface.data.fingerprint import FingerprintData
from aiida_crystalface.data.model import ConvNetModelData
from aiida_crystalface.workflows.utils import (
    BatchResult,
    batch_label,
    batch_names,
    bundled_model,
    format_failures,
    run_batch,
)

__all__ = ('ClassifyStructuresWorkChain', 'validate_model')

#: The precisions of the ``precision`` input (:meth:`aiida_crystalface.ml.classifier.Classifier.logits`).
PRECISIONS = ('float32', 'bfloat16', 'int8')

#: The call link labels of a batch's two calcfunctions (``fingerprints_00003``, ``predictions_00003``).
FINGERPRINTS, PREDICTIONS = 'fingerprints', 'predictions'


def validate_model(node: ConvNetModelData, _port) -> str | None:
    """A model must name its classes and carry fingerprint settings that this version of the package can read."""
    from aiida_crystalface.core.diffraction import FingerprintSettings

    if not node.classes:
        return f'model {node}: no classes'
    try:
        settings = FingerprintSettings.from_dict(node.settings)
    except (TypeError, ValueError, KeyError) as exception:
        return f'model {node}: fingerprint settings this version cannot read ({exception})'
    if settings.hash != node.settings_hash:
        return f'model {node}: settings_hash {node.settings_hash} is not the hash of its settings ({settings.hash})'
    return None


def _validate_batch_size(node: orm.Int, _port) -> str | None:
    if node.value < 1:
        return f'batch_size must be at least 1, not {node.value}'
    return None


def _validate_group(node: orm.Str, _port) -> str | None:
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        orm.load_group(node.value)
    except (NotExistent, MultipleObjectsError, ValueError) as exception:
        return f'group {node.value!r}: {exception}'
    return None


def _validate_precision(node: orm.Str, _port) -> str | None:
    if node.value not in PRECISIONS:
        return f'precision must be one of {", ".join(PRECISIONS)}, not {node.value!r}'
    return None


def _validate_inputs(inputs, namespace) -> str | None:
    if 'structures' not in namespace or 'group' not in namespace:
        return None  # exposed by a WorkChain that gives the structures itself (the series experiments)
    if not inputs.get('structures') and 'group' not in inputs:
        return 'give structures or a group'
    return None


class ClassifyStructuresWorkChain(WorkChain):
    """Fingerprint and classify structures with a trained ConvNet: per batch, ``compute_fingerprints`` then ``predict``.

    Every structure, fingerprint and prediction is its own node: a prediction's provenance leads to its fingerprint
    (``predict`` calcfunction), to the model, and through ``compute_fingerprints`` to its structure and settings.
    A bad structure costs only its own outputs: the others are classified and the WorkChain finishes with
    ``ERROR_SOME_STRUCTURES_FAILED`` naming it.

    One batch per step: the context is checkpointed after each, so a daemon worker that stops costs at most the batch
    it was running, and the restarted WorkChain resumes at that batch. The batch step is idempotent: the calcfunctions
    of batch ``i`` are called under the labels ``fingerprints_<i>`` and ``predictions_<i>``, and a batch that is run
    again keeps what an earlier call under its label stored and runs only the rest. A calcfunction that raises stays
    in the graph (EXCEPTED, with its traceback); the WorkChain stops there, keeps the results of the batches before
    it and exits with ``ERROR_BATCH_EXCEPTED`` naming the batch.

    Large runs: give the structures as a ``group`` (one input link instead of one per structure) and set
    ``return_outputs`` to ``False``: the WorkChain then returns no link per fingerprint and prediction. Nothing is
    lost: every prediction still has its ``CREATE`` link from ``predict``, which has the fingerprint and the model as
    inputs, and every fingerprint its link from ``compute_fingerprints``, which has the structure as input; the
    WorkChain calls those calcfunctions (``node.called``). :func:`aiida_crystalface.provenance.classification_results`
    gives them back by name; the report gives the counts per class.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace(
            'structures',
            valid_type=orm.StructureData,
            dynamic=True,
            required=False,
            help='The structures to classify, by name (names become the output names).',
        )
        spec.input(
            'group',
            valid_type=orm.Str,
            required=False,
            validator=_validate_group,
            help='Label or UUID of a Group whose StructureData members are classified (named structure_<pk>).',
        )
        spec.input(
            'model',
            valid_type=ConvNetModelData,
            required=False,
            validator=validate_model,
            help='The trained model (a crystalface.model node); by default the bundled model, stored once as a node.',
        )
        spec.input(
            'batch_size',
            valid_type=orm.Int,
            default=lambda: orm.Int(500),
            validator=_validate_batch_size,
            help='Structures per batch (one step, two calcfunctions): larger batches mean fewer processes and faster '
            'storage, smaller ones less work lost when a worker stops.',
        )
        spec.input(
            'precision',
            valid_type=orm.Str,
            required=False,
            validator=_validate_precision,
            help="The network's precision: float32 (default), bfloat16 or int8 (needs the int8 parameters in the model "
            'file). Passed to every predict call (absent there for float32).',
        )
        spec.input(
            'return_outputs',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help='Return every fingerprint and prediction as outputs of the WorkChain (two links per structure). '
            'Set False for large runs: the results stay reachable through the called calcfunctions '
            '(provenance.classification_results).',
        )
        spec.inputs.validator = _validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.has_next_batch)(
                cls.classify_batch,
            ),
            cls.results,
        )
        spec.output_namespace('fingerprints', valid_type=FingerprintData, dynamic=True, help='Fingerprint per name.')
        spec.output_namespace(
            'predictions', valid_type=ClassificationData, dynamic=True, help='Classification per name.'
        )
        spec.output('model', valid_type=ConvNetModelData, required=False, help='The model that made the predictions.')
        spec.output('failures', valid_type=orm.Dict, required=False, help='Input name -> reason, for every failure.')
        spec.exit_code(200, 'ERROR_NO_STRUCTURES', message='No structures to classify: {detail}')
        spec.exit_code(203, 'ERROR_NO_MODEL', message='No model given and no bundled model: {detail}')
        spec.exit_code(
            204,
            'ERROR_NO_INT8_PARAMETERS',
            message='precision int8 needs the int8 parameters in the model file, and {model} has none '
            '(Classifier.quantize(images), then save; or python -m aiida_crystalface.ml.bulk --quantize)',
        )
        spec.exit_code(
            310,
            'ERROR_BATCH_EXCEPTED',
            message='Batch {index} of {count} ({label}) raised in {process}: {detail}. The batches before it are kept.',
        )
        spec.exit_code(
            401,
            'ERROR_SOME_STRUCTURES_FAILED',
            message='{count} input(s) could not be classified (every other one was): {detail}',
        )

    def setup(self):
        """Fix the list of structures (a group's members as they are now), the model and the fingerprint settings."""
        if 'group' in self.inputs:
            group = orm.load_group(self.inputs.group.value)
            members = orm.QueryBuilder().append(orm.Group, filters={'id': group.pk}, tag='g')
            members.append(orm.StructureData, with_group='g', project='id')
            # A snapshot: members added to the group later do not shift the batches of a restarted WorkChain.
            self.ctx.group_pks = sorted(members.all(flat=True))
        else:
            self.ctx.group_pks = []
        count = len(self._names())
        if count == 0:
            return self.exit_codes.ERROR_NO_STRUCTURES.format(detail='the inputs hold no StructureData')
        try:
            self.ctx.model = self.inputs.model if 'model' in self.inputs else bundled_model()
        except FileNotFoundError as exception:
            return self.exit_codes.ERROR_NO_MODEL.format(detail=str(exception))
        if self.inputs.get('precision') is not None and self.inputs.precision.value == 'int8':
            if not self.ctx.model.has_int8:
                return self.exit_codes.ERROR_NO_INT8_PARAMETERS.format(model=f'model<{self.ctx.model.pk}>')
        # Stored now: the context is checkpointed between steps, and only stored nodes can be.
        self.ctx.settings = orm.Dict(self.ctx.model.settings).store()
        self.ctx.batch = 0
        self.ctx.n_batches = -(-count // self.inputs.batch_size.value)
        self.ctx.excepted = None
        return None

    def _names(self) -> list[str]:
        """Every input name, sorted: the namespace's names and ``structure_<pk>`` for the group's members."""
        names = set(self.inputs.get('structures', {}))
        names.update(f'structure_{pk}' for pk in self.ctx.group_pks)
        return sorted(names)

    def _item(self, name: str) -> orm.StructureData | int:
        structures = self.inputs.get('structures', {})
        return structures[name] if name in structures else int(name.rsplit('_', 1)[1])

    def has_next_batch(self) -> bool:
        return self.ctx.excepted is None and self.ctx.batch < self.ctx.n_batches

    def classify_batch(self):
        """Fingerprint and classify one batch; its fingerprints go straight to ``predict`` (images in memory)."""
        index = self.ctx.batch
        names = batch_names(self._names(), index, self.inputs.batch_size.value)
        items = {name: self._item(name) for name in names}
        label = batch_label(FINGERPRINTS, index)
        made = run_batch(self, compute_fingerprints, label, items, settings=self.ctx.settings)
        if self._excepted(made, index, label):
            return
        if made.outputs:
            label = batch_label(PREDICTIONS, index)
            fixed = {'model': self.ctx.model}
            if 'precision' in self.inputs and self.inputs.precision.value != 'float32':
                fixed['precision'] = self.inputs.precision
            predicted = run_batch(self, predict, label, made.outputs, **fixed)
            if self._excepted(predicted, index, label):
                return
        self.ctx.batch = index + 1

    def _excepted(self, batch: BatchResult, index: int, label: str) -> bool:
        """Record a calcfunction that raised (the loop stops after this step); ``False`` when none did."""
        if batch.excepted is None and not batch.message:
            return False
        process = f'{batch.excepted.process_label}<{batch.excepted.pk}>' if batch.excepted is not None else label
        self.report(f'batch {index} ({label}): {process} raised {batch.message}')
        self.ctx.excepted = {'index': index, 'label': label, 'process': process, 'detail': batch.message}
        return True

    def _batch_outputs(self, step: str, cls: type) -> dict[str, int]:
        """Output name -> pk of the ``cls`` outputs of every calcfunction called under a ``step`` batch label."""
        builder = orm.QueryBuilder()
        builder.append(orm.WorkflowNode, filters={'id': self.node.pk}, tag='workchain')
        builder.append(
            orm.CalcFunctionNode,
            with_incoming='workchain',
            edge_filters={'type': LinkType.CALL_CALC.value, 'label': {'like': f'{step}_%'}},
            tag='calc',
        )
        builder.append(
            cls, with_incoming='calc', edge_filters={'type': LinkType.CREATE.value}, edge_project='label', project='id'
        )
        return {label: pk for pk, label in builder.all()}

    def _failure_nodes(self) -> list[orm.Dict]:
        builder = orm.QueryBuilder()
        builder.append(orm.WorkflowNode, filters={'id': self.node.pk}, tag='workchain')
        builder.append(
            orm.CalcFunctionNode, with_incoming='workchain', edge_filters={'type': LinkType.CALL_CALC.value}, tag='c'
        )
        builder.append(
            orm.Dict, with_incoming='c', edge_filters={'type': LinkType.CREATE.value, 'label': 'failures'}, project='*'
        )
        return sorted(builder.all(flat=True), key=lambda node: node.pk)

    def results(self):
        """Return every fingerprint and prediction (unless told not to); report what failed."""
        fingerprints = self._batch_outputs(FINGERPRINTS, FingerprintData)
        predictions = self._batch_outputs(PREDICTIONS, ClassificationData)
        if self.inputs.return_outputs.value:
            nodes = orm.QueryBuilder().append(
                orm.Data, filters={'id': {'in': [*fingerprints.values(), *predictions.values()]}}, project=['id', '*']
            )
            by_pk = dict(nodes.all()) if fingerprints or predictions else {}
            for key, pk in fingerprints.items():
                self.out(f'fingerprints.{key}', by_pk[pk])
            for key, pk in predictions.items():
                self.out(f'predictions.{key}', by_pk[pk])
        else:
            classes = orm.QueryBuilder().append(
                ClassificationData,
                filters={'id': {'in': list(predictions.values())}},
                project='attributes.predicted_class',
            )
            counts = collections.Counter(classes.all(flat=True)) if predictions else collections.Counter()
            self.report(
                f'{len(predictions)} of {len(self._names())} structures classified, by class '
                f'{dict(sorted(counts.items()))}; '
                'outputs not returned (return_outputs=False): see provenance.classification_results'
            )
        self.out('model', self.ctx.model)
        failure_nodes = self._failure_nodes()
        failures: dict[str, str] = {}
        for node in failure_nodes:
            failures.update(node.get_dict())
        if failure_nodes:
            merged = (
                failure_nodes[0]
                if len(failure_nodes) == 1
                else merge_failures(**{f'batch_{i}': n for i, n in enumerate(failure_nodes)})
            )
            self.out('failures', merged)
        if self.ctx.excepted is not None:
            return self.exit_codes.ERROR_BATCH_EXCEPTED.format(count=self.ctx.n_batches, **self.ctx.excepted)
        if failures:
            self.report(f'{len(failures)} input(s) failed: {format_failures(failures, limit=10**6)}')
            return self.exit_codes.ERROR_SOME_STRUCTURES_FAILED.format(
                count=len(failures), detail=format_failures(failures)
            )
        return None
