"""ClassifyAtomsWorkChain: structures (or a Group, or a trajectory) -> per-atom classifications, one batch per step."""

from __future__ import annotations

import inspect
import numbers

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, while_

from aiida_crystalface.calculations.functions.classify_atoms import classify_atoms
from aiida_crystalface.calculations.functions.classify_trajectory import classify_trajectory, frame_name
from aiida_crystalface.calculations.functions.merge_failures import merge_failures
from aiida_crystalface.calculations.functions.summarize_local import summarize_local
from aiida_crystalface.data.local import LocalClassificationData
from aiida_crystalface.data.model import ConvNetModelData
from aiida_crystalface.workflows.classify import _validate_batch_size, _validate_group, validate_model
from aiida_crystalface.workflows.utils import (
    BatchResult,
    _made,
    batch_label,
    batch_names,
    bundled_model,
    called,
    format_failures,
    run_batch,
)

__all__ = ('ClassifyAtomsWorkChain', 'validate_window_options')

#: The call link labels: ``atoms_00003`` (batch 3 of structures), ``frames_00003`` (batch 3 of frames), ``summary``.
ATOMS, FRAMES, SUMMARY = 'atoms', 'frames', 'summary'

#: Window options that must be positive numbers, and those that must be integers, when given.
_POSITIVE, _INTEGER = ('window', 'stride'), ('seed',)


def validate_window_options(node: orm.Dict, _port) -> str | None:
    """Window options: JSON values, ``window`` and ``stride`` positive numbers, ``seed`` an integer, and only names
    that ``Classifier.classify_atoms`` takes (when its signature lists them)."""
    options = node.get_dict()
    for key in _POSITIVE:
        value = options.get(key)
        if key in options and (isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0):
            return f'options: {key} must be a positive number, not {value!r}'
    for key in _INTEGER:
        value = options.get(key)
        if key in options and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            return f'options: {key} must be an integer, not {value!r}'
    accepted = _accepted_options()
    unknown = sorted(set(options) - accepted) if accepted is not None else []
    if unknown:
        return f'options: {unknown} are not options of Classifier.classify_atoms (it takes {sorted(accepted)})'
    return None


def _accepted_options() -> set[str] | None:
    """The keyword names ``Classifier.classify_atoms`` takes; None when it takes any (``**options``) or is absent."""
    from aiida_crystalface.ml.classifier import Classifier  # the module imports torch lazily

    method = getattr(Classifier, 'classify_atoms', None)
    if method is None:
        return None
    parameters = list(inspect.signature(method).parameters.values())[2:]  # self, structure
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _validate_inputs(inputs, namespace) -> str | None:
    structures = bool(inputs.get('structures')) or 'group' in inputs
    if structures and 'trajectory' in inputs:
        return 'give structures (or a group) or a trajectory, not both'
    if not structures and 'trajectory' not in inputs:
        return 'give structures, a group or a trajectory'
    return None


class ClassifyAtomsWorkChain(WorkChain):
    """Classify every atom of structures, or of the frames of a trajectory, with a trained ConvNet.

    Per batch, ``classify_atoms`` (structures) or ``classify_trajectory`` (a range of frames) makes one
    ``crystalface.local_classification`` node per structure or frame: a label, probabilities and an uncertainty per
    atom in its repository, the counts and fractions of each label as queryable attributes. Its provenance leads to
    the structure (or the trajectory and the frame range), the model and the window options.

    One batch per step: the context is checkpointed after each, and a restarted WorkChain resumes at the batch it
    was running. The batch step is idempotent: the calcfunctions of batch ``i`` are called under the label
    ``atoms_<i>`` or ``frames_<i>``, and a batch run again keeps what an earlier call under its label made and runs
    only the rest. A bad structure or frame costs only its own result (``ERROR_SOME_STRUCTURES_FAILED`` names it;
    ``ERROR_ALL_FAILED`` when none is left). A calcfunction that raises stays in the graph (EXCEPTED, with its
    traceback); the WorkChain stops there, keeps the results of the batches before it and exits with
    ``ERROR_BATCH_EXCEPTED`` naming the batch. The ``summary`` Dict gives the fraction of each label per structure or
    frame and over all atoms.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace(
            'structures',
            valid_type=orm.StructureData,
            dynamic=True,
            required=False,
            help='The structures whose atoms are classified, by name (names become the output names).',
        )
        spec.input(
            'group',
            valid_type=orm.Str,
            required=False,
            validator=_validate_group,
            help='Label or UUID of a Group whose StructureData members are classified (named structure_<pk>).',
        )
        spec.input(
            'trajectory',
            valid_type=orm.TrajectoryData,
            required=False,
            help='A trajectory whose every frame is classified (outputs frame_<index>, five digits); instead of '
            'structures.',
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
            default=lambda: orm.Int(10),
            validator=_validate_batch_size,
            help='Structures or frames per batch (one step, one calcfunction). Each atom is a fingerprint of its '
            'own, so a batch is far more work than one of ClassifyStructuresWorkChain.',
        )
        spec.input(
            'options',
            valid_type=orm.Dict,
            required=False,
            validator=validate_window_options,
            help='Window options, the keyword arguments of Classifier.classify_atoms (window, stride, seed...); by '
            "default the classifier's own.",
        )
        spec.inputs.validator = _validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.has_next_batch)(
                cls.classify_batch,
            ),
            cls.results,
        )
        spec.output_namespace(
            'classifications',
            valid_type=LocalClassificationData,
            dynamic=True,
            help='Per-atom classification per structure name or frame (frame_<index>).',
        )
        spec.output(
            'summary', valid_type=orm.Dict, required=False, help='Label fractions per structure or frame, and totals.'
        )
        spec.output('model', valid_type=ConvNetModelData, required=False, help='The model that classified the atoms.')
        spec.output('failures', valid_type=orm.Dict, required=False, help='Input name -> reason, for every failure.')
        spec.exit_code(200, 'ERROR_NO_STRUCTURES', message='No structures to classify: {detail}')
        spec.exit_code(201, 'ERROR_INVALID_INPUT', message='Invalid input: {detail}')
        spec.exit_code(203, 'ERROR_NO_MODEL', message='No model given and no bundled model: {detail}')
        spec.exit_code(
            310,
            'ERROR_BATCH_EXCEPTED',
            message='Batch {index} of {count} ({label}) raised in {process}: {detail}. The batches before it are kept.',
        )
        spec.exit_code(311, 'ERROR_ALL_FAILED', message='None of the {count} input(s) could be classified: {detail}')
        spec.exit_code(
            401,
            'ERROR_SOME_STRUCTURES_FAILED',
            message='{count} input(s) could not be classified (every other one was): {detail}',
        )

    def setup(self):
        """Fix the inputs (a group's members as they are now, or the trajectory's frame count) and the model."""
        self.ctx.group_pks = []
        if 'group' in self.inputs:
            group = orm.load_group(self.inputs.group.value)
            members = orm.QueryBuilder().append(orm.Group, filters={'id': group.pk}, tag='g')
            members.append(orm.StructureData, with_group='g', project='id')
            # A snapshot: members added to the group later do not shift the batches of a restarted WorkChain.
            self.ctx.group_pks = sorted(members.all(flat=True))
        if 'trajectory' in self.inputs:
            detail = self._check_trajectory(self.inputs.trajectory)
            if detail:
                return self.exit_codes.ERROR_INVALID_INPUT.format(detail=detail)
            count = self.inputs.trajectory.numsteps
            what = 'the trajectory has no frames'
        else:
            count = len(self._names())
            what = 'the inputs hold no StructureData'
        if count == 0:
            return self.exit_codes.ERROR_NO_STRUCTURES.format(detail=what)
        try:
            self.ctx.model = self.inputs.model if 'model' in self.inputs else bundled_model(per_atom=True)
        except FileNotFoundError as exception:
            return self.exit_codes.ERROR_NO_MODEL.format(detail=str(exception))
        self.ctx.count = count
        self.ctx.batch = 0
        self.ctx.n_batches = -(-count // self.inputs.batch_size.value)
        self.ctx.excepted = None
        return None

    @staticmethod
    def _check_trajectory(trajectory: orm.TrajectoryData) -> str | None:
        """What makes a trajectory unreadable as a whole (not a frame's fault), or None."""
        from aiida_crystalface.core.structures import StructureError, atomic_number

        try:
            for symbol in set(trajectory.symbols):
                atomic_number(symbol)
        except (StructureError, KeyError, ValueError) as exception:
            return f'trajectory {trajectory}: {exception}'
        return None

    def _names(self) -> list[str]:
        """Every input name, sorted: the namespace's names and ``structure_<pk>`` for the group's members."""
        names = set(self.inputs.get('structures', {}))
        names.update(f'structure_{pk}' for pk in self.ctx.group_pks)
        return sorted(names)

    def _item(self, name: str) -> orm.StructureData | int:
        structures = self.inputs.get('structures', {})
        return structures[name] if name in structures else int(name.rsplit('_', 1)[1])

    def _fixed(self) -> dict[str, orm.Data]:
        """The inputs every calcfunction of the run shares: the model, and the options when given."""
        return {'model': self.ctx.model, **({'options': self.inputs.options} if 'options' in self.inputs else {})}

    def has_next_batch(self) -> bool:
        return self.ctx.excepted is None and self.ctx.batch < self.ctx.n_batches

    def classify_batch(self):
        """Classify the atoms of one batch of structures or of frames."""
        index = self.ctx.batch
        if 'trajectory' in self.inputs:
            label = batch_label(FRAMES, index)
            batch = self._run_frames(label, index)
        else:
            label = batch_label(ATOMS, index)
            names = batch_names(self._names(), index, self.inputs.batch_size.value)
            batch = run_batch(self, classify_atoms, label, {name: self._item(name) for name in names}, **self._fixed())
        if self._excepted(batch, index, label):
            return
        self.ctx.batch = index + 1

    def _run_frames(self, label: str, index: int) -> BatchResult:
        """Run one batch of frames idempotently, as :func:`run_batch` does for structures: the frames that calls
        under ``label`` made (or failed) are kept, ``classify_trajectory`` runs on each contiguous range left."""
        size = self.inputs.batch_size.value
        frames = range(index * size, min((index + 1) * size, self.ctx.count))
        calls = called(self.node, label)
        outputs, failures, failure_nodes = _made(calls)
        reused = len(outputs)
        todo = [frame for frame in frames if frame_name(frame) not in outputs and frame_name(frame) not in failures]
        if calls and todo:
            self.report(
                f'{label}: {len(outputs)} output(s) of earlier calls {[c.pk for c in calls]} kept; '
                f'running the {len(todo)} frame(s) left'
            )
        for start, stop in _ranges(todo):
            try:
                result, node = classify_trajectory.run_get_node(
                    trajectory=self.inputs.trajectory,
                    start=orm.Int(start),
                    stop=orm.Int(stop),
                    **self._fixed(),
                    metadata={'call_link_label': label},
                )
            except Exception as exception:
                excepted = [c for c in called(self.node, label) if c.is_excepted]
                message = f'{type(exception).__name__}: {exception}'
                last = excepted[-1] if excepted else None
                return BatchResult(outputs, failures, failure_nodes, reused, last, message)
            result = dict(result)
            failure_node = result.pop('failures', None)
            if failure_node is not None:
                failure_nodes.append(failure_node)
                failures.update({key: str(message) for key, message in failure_node.get_dict().items()})
            elif not node.is_finished_ok:
                message = node.exit_message or f'exit status {node.exit_status}'
                failures.update({frame_name(frame): message for frame in range(start, stop)})
            outputs.update(result)
        return BatchResult(outputs, failures, failure_nodes, reused)

    def _excepted(self, batch: BatchResult, index: int, label: str) -> bool:
        """Record a calcfunction that raised (the loop stops after this step); ``False`` when none did."""
        if batch.excepted is None and not batch.message:
            return False
        process = f'{batch.excepted.process_label}<{batch.excepted.pk}>' if batch.excepted is not None else label
        self.report(f'batch {index} ({label}): {process} raised {batch.message}')
        self.ctx.excepted = {'index': index, 'label': label, 'process': process, 'detail': batch.message}
        return True

    def _calls(self, step: str) -> orm.QueryBuilder:
        """A query from this WorkChain to the calcfunctions it called under a ``step`` batch label (tag ``calc``)."""
        builder = orm.QueryBuilder()
        builder.append(orm.WorkflowNode, filters={'id': self.node.pk}, tag='workchain')
        builder.append(
            orm.CalcFunctionNode,
            with_incoming='workchain',
            edge_filters={'type': LinkType.CALL_CALC.value, 'label': {'like': f'{step}_%'}},
            tag='calc',
        )
        return builder

    def _results(self, step: str) -> dict[str, LocalClassificationData]:
        """Output name -> the per-atom classifications made under every ``step`` batch label, in one query."""
        builder = self._calls(step)
        builder.append(
            LocalClassificationData,
            with_incoming='calc',
            edge_filters={'type': LinkType.CREATE.value},
            edge_project='label',
            project='*',
        )
        return {label: node for node, label in builder.all()}

    def _failure_nodes(self, step: str) -> list[orm.Dict]:
        builder = self._calls(step)
        edges = {'type': LinkType.CREATE.value, 'label': 'failures'}
        builder.append(orm.Dict, with_incoming='calc', edge_filters=edges, project='*')
        return sorted(builder.all(flat=True), key=lambda node: node.pk)

    def _summary(self, results: dict[str, LocalClassificationData]) -> orm.Dict:
        """The summary Dict of ``results`` (the one an earlier try of this step made, when there is one)."""
        done = [c for c in called(self.node, SUMMARY) if c.is_finished_ok]
        if done and 'result' in done[-1].outputs:
            return done[-1].outputs.result
        return summarize_local(**results, metadata={'call_link_label': SUMMARY})

    def results(self):
        """Return every per-atom classification and the summary; report what failed."""
        step = FRAMES if 'trajectory' in self.inputs else ATOMS
        results = self._results(step)
        for key, node in results.items():
            self.out(f'classifications.{key}', node)
        if results:
            self.out('summary', self._summary(results))
        self.out('model', self.ctx.model)
        failure_nodes = self._failure_nodes(step)
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
            exit_code = self.exit_codes.ERROR_SOME_STRUCTURES_FAILED if results else self.exit_codes.ERROR_ALL_FAILED
            return exit_code.format(count=len(failures), detail=format_failures(failures))
        return None


def _ranges(frames: list[int]) -> list[tuple[int, int]]:
    """The sorted ``frames`` as contiguous ``[start, stop)`` ranges."""
    ranges: list[tuple[int, int]] = []
    for frame in sorted(frames):
        if ranges and ranges[-1][1] == frame:
            ranges[-1] = (ranges[-1][0], frame + 1)
        else:
            ranges.append((frame, frame + 1))
    return ranges
