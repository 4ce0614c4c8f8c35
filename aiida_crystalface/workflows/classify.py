"""ClassifyStructuresWorkChain: structures (or a Group of them) -> fingerprints -> predictions, in batches."""

from __future__ import annotations

import collections

from aiida import orm
from aiida.engine import WorkChain

from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
from aiida_crystalface.calculations.functions.merge_failures import merge_failures
from aiida_crystalface.calculations.functions.predict import predict
from aiida_crystalface.data.classification import ClassificationData
from aiida_crystalface.data.fingerprint import FingerprintData
from aiida_crystalface.data.model import ConvNetModelData
from aiida_crystalface.workflows.utils import (
    BatchResult,
    batches,
    bundled_model,
    format_failures,
    load_nodes,
    run_batch,
)

__all__ = ('ClassifyStructuresWorkChain',)


class ClassifyStructuresWorkChain(WorkChain):
    """Fingerprint and classify structures with a trained ConvNet: per batch, ``compute_fingerprints`` then ``predict``.

    Every structure, fingerprint and prediction is its own node: a prediction's provenance leads to its fingerprint
    (``predict`` calcfunction), to the model, and through ``compute_fingerprints`` to its structure and settings.
    A bad structure costs only its own outputs: the others are classified and the WorkChain finishes with
    ``ERROR_SOME_STRUCTURES_FAILED`` naming it.

    Large runs: give the structures as a ``group`` (one input link instead of one per structure) and set
    ``return_outputs`` to ``False``: the WorkChain then returns no link per fingerprint and prediction (each one is a
    separate database commit on a stored node, the dominant cost at thousands of structures). Nothing is lost: every
    prediction still has its ``CREATE`` link from ``predict``, which has the fingerprint and the model as inputs, and
    every fingerprint its link from ``compute_fingerprints``, which has the structure as input; the WorkChain calls
    those calcfunctions (``node.called``). :func:`aiida_crystalface.provenance.classification_results` gives them back
    by name; the report gives the counts per class.

    Storage: each calcfunction runs in one transaction, with its inputs loaded in one query inside it; the fingerprints
    of a batch go to ``predict`` as the objects that were just stored (images in memory). See the "Speed" section of
    docs/workflows.md.
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
            help='Label or UUID of a Group whose StructureData members are classified (named structure_<pk>).',
        )
        spec.input(
            'model',
            valid_type=orm.Data,
            required=False,
            help='The trained model (a crystalface.model node); by default the bundled model, stored once as a node.',
        )
        spec.input(
            'batch_size',
            valid_type=orm.Int,
            default=lambda: orm.Int(500),
            help='Structures per calcfunction: larger batches mean fewer processes and faster storage.',
        )
        spec.input(
            'return_outputs',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help='Return every fingerprint and prediction as outputs of the WorkChain (two links per structure). '
            'Set False for large runs: the results stay reachable through the called calcfunctions '
            '(provenance.classification_results).',
        )
        spec.outline(
            cls.setup,
            cls.classify,
            cls.results,
        )
        spec.output_namespace('fingerprints', valid_type=FingerprintData, dynamic=True, help='Fingerprint per name.')
        spec.output_namespace(
            'predictions', valid_type=ClassificationData, dynamic=True, help='Classification per name.'
        )
        spec.output('model', valid_type=ConvNetModelData, required=False, help='The model that made the predictions.')
        spec.output('failures', valid_type=orm.Dict, required=False, help='Input name -> reason, for every failure.')
        spec.exit_code(200, 'ERROR_NO_STRUCTURES', message='No structures to classify: {detail}')
        spec.exit_code(201, 'ERROR_INVALID_GROUP', message='The group input is not usable: {detail}')
        spec.exit_code(203, 'ERROR_NO_MODEL', message='No model given and no bundled model: {detail}')
        spec.exit_code(202, 'ERROR_INVALID_MODEL', message='The model input is not a crystalface model: {detail}')
        spec.exit_code(
            401,
            'ERROR_SOME_STRUCTURES_FAILED',
            message='{count} input(s) could not be classified (every other one was): {detail}',
        )

    def setup(self):
        """Collect the structures, pick the model and the fingerprint settings it needs."""
        structures = dict(self.inputs.get('structures', {}))
        if 'group' in self.inputs:
            try:
                group = orm.load_group(self.inputs.group.value)
            except Exception as exception:
                return self.exit_codes.ERROR_INVALID_GROUP.format(detail=f'{self.inputs.group.value!r}: {exception}')
            members = orm.QueryBuilder().append(orm.Group, filters={'id': group.pk}, tag='g')
            members.append(orm.StructureData, with_group='g', project='id')
            structures.update({f'structure_{pk}': pk for pk in members.all(flat=True)})
        if not structures:
            return self.exit_codes.ERROR_NO_STRUCTURES.format(detail='give structures or a non-empty group')
        # The context holds pks, not nodes: it is checkpointed after every step, and serialising thousands of nodes
        # reloads each one's row (every commit expires the session), which cost more than the science.
        self.ctx.structures = {key: node if isinstance(node, int) else node.pk for key, node in structures.items()}
        self.ctx.failures = {}
        self.ctx.failure_nodes = []
        self.ctx.model_error = None
        try:
            model = self.inputs.model if 'model' in self.inputs else bundled_model()
        except FileNotFoundError as exception:
            return self.exit_codes.ERROR_NO_MODEL.format(detail=str(exception))
        if not isinstance(model, ConvNetModelData):
            self.ctx.model_error = f'{model.__class__.__name__}<{model.pk}> is not a ConvNetModelData'
            self.ctx.model = None
            from aiida_crystalface.core.diffraction import FingerprintSettings

            settings = FingerprintSettings().to_dict()
        else:
            self.ctx.model = model
            settings = model.settings
        # Stored now: the context is checkpointed between steps, and only stored nodes can be.
        self.ctx.settings = orm.Dict(settings).store()
        return None

    def classify(self):
        """Fingerprint and classify the structures, batch by batch: a batch's fingerprints go straight to ``predict``.

        Each calcfunction runs in its own storage transaction (a batch's fingerprints are committed before they are
        classified). The fingerprint nodes that ``predict`` gets are the objects ``compute_fingerprints`` made: their
        images are still in memory, and one query brings their rows back after the commit.
        """
        size = self.inputs.batch_size.value
        model = self.ctx.model
        self.ctx.fingerprints, self.ctx.predictions = {}, {}
        for names in batches(self.ctx.structures, size):
            made = run_batch(compute_fingerprints, names, settings=self.ctx.settings)
            self._add_failures(made)
            self.ctx.fingerprints.update(made.pks)
            if model is None or not made.outputs:
                continue
            predicted = run_batch(predict, made.outputs, refresh=made.pks, model=model)
            self._add_failures(predicted)
            self.ctx.predictions.update(predicted.pks)

    def _add_failures(self, batch: BatchResult) -> None:
        self.ctx.failures.update(batch.failures)
        if batch.failure_node is not None:
            self.ctx.failure_nodes.append(batch.failure_node)

    def results(self):
        """Return every fingerprint and prediction (unless told not to); report what failed."""
        predictions = self.ctx.predictions
        if self.inputs.return_outputs.value:
            for key, node in load_nodes(self.ctx.fingerprints).items():
                self.out(f'fingerprints.{key}', node)
            for key, node in load_nodes(predictions).items():
                self.out(f'predictions.{key}', node)
        else:
            labels = orm.QueryBuilder().append(
                ClassificationData, filters={'id': {'in': list(predictions.values())}}, project='attributes.label'
            )
            counts = collections.Counter(labels.all(flat=True)) if predictions else collections.Counter()
            self.report(
                f'{len(predictions)} of {len(self.ctx.structures)} structures classified, by label '
                f'{dict(sorted(counts.items()))}; '
                'outputs not returned (return_outputs=False): see provenance.classification_results'
            )
        if self.ctx.model is not None:
            self.out('model', self.ctx.model)
        if self.ctx.failure_nodes:
            nodes = self.ctx.failure_nodes
            merged = nodes[0] if len(nodes) == 1 else merge_failures(**{f'batch_{i}': n for i, n in enumerate(nodes)})
            self.out('failures', merged)
        if self.ctx.model_error:
            return self.exit_codes.ERROR_INVALID_MODEL.format(detail=self.ctx.model_error)
        if self.ctx.failures:
            self.report(f'{len(self.ctx.failures)} input(s) failed: {format_failures(self.ctx.failures, limit=10**6)}')
            return self.exit_codes.ERROR_SOME_STRUCTURES_FAILED.format(
                count=len(self.ctx.failures), detail=format_failures(self.ctx.failures)
            )
        return None
