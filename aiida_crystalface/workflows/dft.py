"""ClassifyAndComputeWorkChain: classify a structure, build the ideal prototype of its class, run pw.x on it.

The chain in the provenance graph: structure -> ``compute_fingerprints`` -> fingerprint -> ``predict`` ->
classification -> ``make_prototype`` -> prototype -> PwBaseWorkChain (or PwRelaxWorkChain) -> PwCalculation ->
``output_parameters`` (the total energy). aiida-quantumespresso is the ``dft`` extra of the package: this module
imports it only when the WorkChain is defined, so the rest of the plugin works without it.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain
from aiida_quantumespresso.common.types import ElectronicType, RelaxType
from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain

from aiida_crystalface.calculations.functions.make_prototype import CELLS, make_prototype
from aiida_crystalface.data.classification import ClassificationData
from aiida_crystalface.data.model import ConvNetModelData
from aiida_crystalface.dft_setup import DEFAULT_FAMILY, INSTALL_HINT
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain, validate_model

__all__ = ('ClassifyAndComputeWorkChain',)

#: pw.x runs serially unless the ``options`` input says otherwise (the protocols ask for MPI).
DEFAULT_OPTIONS = {'withmpi': False}

_RELAX_TYPES = [t.value for t in RelaxType]
_ELECTRONIC_TYPES = [ElectronicType.METAL.value, ElectronicType.INSULATOR.value]


def _validate_probability(node, _port):
    if not 0.0 <= node.value <= 1.0:
        return f'min_probability must lie in [0, 1], not {node.value}'
    return None


def _validate_choice(choices):
    def validator(node, port):
        if node.value not in choices:
            return f'{port.name}: {node.value!r} is not one of {list(choices)}'
        return None

    return validator


class ClassifyAndComputeWorkChain(WorkChain):
    """Classify one structure and compute the ideal crystal of its class with Quantum ESPRESSO.

    1. ``ClassifyStructuresWorkChain`` classifies the structure (the package's public path: fingerprint, model).
    2. A classification below ``min_probability`` is refused (exit code 320): nobody computes the wrong crystal.
    3. ``make_prototype`` builds the pristine crystal of the predicted class: the structure's majority species at its
       volume per atom, in the ``cell`` asked for.
    4. ``PwBaseWorkChain`` (``relax_type`` ``'none'``: one SCF) or ``PwRelaxWorkChain`` (any other ``relax_type``)
       runs on the prototype, its inputs made by their ``get_builder_from_protocol`` with ``protocol``, the
       pseudopotentials and recommended cutoffs of ``pseudo_family`` and ``overrides`` (nested as the chosen
       WorkChain's protocol inputs: ``{'pw': {'parameters': ...}, 'kpoints_distance': ...}`` for the SCF, the same
       under ``base_relax`` for a relaxation).

    Outputs: ``classification``, ``prototype`` and the DFT WorkChain's outputs under ``dft`` (``dft.output_parameters``
    holds the total ``energy`` in eV).
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structure', valid_type=orm.StructureData, help='The structure to classify and compute.')
        spec.input(
            'model',
            valid_type=ConvNetModelData,
            required=False,
            validator=validate_model,
            help='The trained model (a crystalface.model node); by default the bundled model.',
        )
        spec.input(
            'min_probability',
            valid_type=orm.Float,
            default=lambda: orm.Float(0.9),
            validator=_validate_probability,
            help='Refuse (exit code 320) a classification whose probability is below this: no DFT runs then.',
        )
        spec.input(
            'cell',
            valid_type=orm.Str,
            default=lambda: orm.Str('primitive'),
            validator=_validate_choice(CELLS),
            help="The prototype's cell: 'primitive' (fewest atoms) or 'conventional' (the cubic cell).",
        )
        spec.input(
            'code',
            valid_type=orm.AbstractCode,
            help='The pw.x code (quantumespresso.pw); `aiida-crystalface dft setup` registers pw@localhost.',
        )
        spec.input(
            'pseudo_family',
            valid_type=orm.Str,
            default=lambda: orm.Str(DEFAULT_FAMILY),
            help='Label of an aiida-pseudo family with recommended cutoffs (or give ecutwfc and ecutrho in overrides).',
        )
        spec.input(
            'protocol',
            valid_type=orm.Str,
            default=lambda: orm.Str('balanced'),
            help="aiida-quantumespresso protocol: 'fast', 'balanced' or 'stringent'.",
        )
        spec.input(
            'overrides',
            valid_type=orm.Dict,
            required=False,
            help="Overrides of the protocol's inputs, nested as the DFT WorkChain's inputs (see the class docstring).",
        )
        spec.input(
            'options',
            valid_type=orm.Dict,
            default=lambda: orm.Dict(DEFAULT_OPTIONS),
            help='metadata.options of every PwCalculation (resources, withmpi, ...); by default pw.x runs serially.',
        )
        spec.input(
            'relax_type',
            valid_type=orm.Str,
            default=lambda: orm.Str(RelaxType.NONE.value),
            validator=_validate_choice(_RELAX_TYPES),
            help="'none': one SCF with PwBaseWorkChain; any other RelaxType value (e.g. 'cell', 'positions_cell'): "
            'PwRelaxWorkChain.',
        )
        spec.input(
            'electronic_type',
            valid_type=orm.Str,
            default=lambda: orm.Str(ElectronicType.METAL.value),
            validator=_validate_choice(_ELECTRONIC_TYPES),
            help="'metal' (smearing; safe for any crystal) or 'insulator' (fixed occupations).",
        )
        spec.outline(
            cls.check_dft_setup,
            cls.classify,
            cls.inspect_classification,
            cls.build_prototype,
            cls.run_dft,
            cls.results,
        )
        spec.output('classification', valid_type=ClassificationData, help='The classification of the structure.')
        spec.output('prototype', valid_type=orm.StructureData, required=False, help='The ideal crystal computed.')
        spec.expose_outputs(PwBaseWorkChain, namespace='dft', namespace_options={'required': False})
        spec.exit_code(
            300, 'ERROR_CODE_NOT_USABLE', message='The code {code} cannot run pw.x: {detail}. To fix: ' + INSTALL_HINT
        )
        spec.exit_code(
            301,
            'ERROR_PSEUDO_FAMILY_NOT_FOUND',
            message='No pseudopotential family {family!r} in this profile. To fix: ' + INSTALL_HINT,
        )
        spec.exit_code(
            302,
            'ERROR_PSEUDO_FAMILY_LACKS_ELEMENT',
            message='The pseudopotential family {family!r} has no pseudopotential for {element} (it has {elements}).',
        )
        spec.exit_code(303, 'ERROR_INVALID_DFT_INPUTS', message='The DFT inputs could not be built: {detail}')
        spec.exit_code(310, 'ERROR_CLASSIFICATION_FAILED', message='The classification failed: {detail}')
        spec.exit_code(
            320,
            'ERROR_PROBABILITY_TOO_LOW',
            message='The structure was classified {label} with probability {probability:.3f}, below min_probability '
            '{threshold:.3f}: no prototype is computed.',
        )
        spec.exit_code(321, 'ERROR_NO_PROTOTYPE', message='No prototype for the predicted class: {detail}')
        spec.exit_code(330, 'ERROR_DFT_FAILED', message='{process}<{pk}> failed with exit status {status}: {detail}')

    def check_dft_setup(self):
        """Check the code and the family before anything is computed: a missing pw.x or family costs no time."""
        from aiida.common.exceptions import ValidationError
        from aiida_pseudo.groups.family import PseudoPotentialFamily

        code = self.inputs.code
        if isinstance(code, orm.InstalledCode):
            try:
                code.validate_filepath_executable()
            except ValidationError as exception:
                return self.exit_codes.ERROR_CODE_NOT_USABLE.format(code=code.full_label, detail=str(exception))
        label = self.inputs.pseudo_family.value
        found = orm.QueryBuilder().append(PseudoPotentialFamily, filters={'label': label}).all(flat=True)
        if not found:
            return self.exit_codes.ERROR_PSEUDO_FAMILY_NOT_FOUND.format(family=label)
        self.ctx.family_elements = sorted(found[0].elements)
        return None

    def classify(self):
        """Classify the structure with ClassifyStructuresWorkChain (and the given or bundled model)."""
        inputs = {'structures': {'structure': self.inputs.structure}}
        if 'model' in self.inputs:
            inputs['model'] = self.inputs.model
        return ToContext(classification=self.submit(ClassifyStructuresWorkChain, **inputs))

    def inspect_classification(self):
        """Return the classification; refuse one below ``min_probability``."""
        node = self.ctx.classification
        predictions = node.outputs.predictions if 'predictions' in node.outputs else {}
        if not node.is_finished_ok or 'structure' not in predictions:
            detail = f'{node.process_label}<{node.pk}>: exit status {node.exit_status}, {node.exit_message}'
            return self.exit_codes.ERROR_CLASSIFICATION_FAILED.format(detail=detail)
        classification = predictions['structure']
        self.out('classification', classification)
        threshold = self.inputs.min_probability.value
        if classification.max_probability < threshold:
            self.report(
                f'refused: {classification.predicted_class} at p = {classification.max_probability:.3f} < {threshold}'
            )
            return self.exit_codes.ERROR_PROBABILITY_TOO_LOW.format(
                label=classification.predicted_class, probability=classification.max_probability, threshold=threshold
            )
        self.ctx.classification_node = classification
        return None

    def build_prototype(self):
        """Build the ideal prototype of the predicted class (calcfunction ``make_prototype``)."""
        from aiida_crystalface.core.prototypes import CLASSES

        classification = self.ctx.classification_node
        if classification.predicted_class not in CLASSES:
            return self.exit_codes.ERROR_NO_PROTOTYPE.format(
                detail=f'class {classification.predicted_class!r} (prototypes exist for {list(CLASSES)})'
            )
        prototype = make_prototype(classification, self.inputs.structure, self.inputs.cell)
        self.out('prototype', prototype)
        self.ctx.prototype = prototype
        element = prototype.get_kind_names()[0]
        if element not in self.ctx.family_elements:
            return self.exit_codes.ERROR_PSEUDO_FAMILY_LACKS_ELEMENT.format(
                family=self.inputs.pseudo_family.value, element=element, elements=self.ctx.family_elements
            )
        return None

    def _builder(self):
        overrides = self.inputs.overrides.get_dict() if 'overrides' in self.inputs else {}
        family = self.inputs.pseudo_family.value
        relax_type = RelaxType(self.inputs.relax_type.value)
        kwargs = {
            'code': self.inputs.code,
            'structure': self.ctx.prototype,
            'protocol': self.inputs.protocol.value,
            'options': self.inputs.options.get_dict(),
            'electronic_type': ElectronicType(self.inputs.electronic_type.value),
        }
        if relax_type is RelaxType.NONE:
            overrides.setdefault('pseudo_family', family)
            return PwBaseWorkChain.get_builder_from_protocol(overrides=overrides, **kwargs)
        for namespace in ('base_relax', 'base_init_relax'):
            overrides.setdefault(namespace, {}).setdefault('pseudo_family', family)
        return PwRelaxWorkChain.get_builder_from_protocol(overrides=overrides, relax_type=relax_type, **kwargs)

    def run_dft(self):
        """Build the DFT WorkChain's inputs from its protocol and run it on the prototype."""
        try:
            builder = self._builder()
        except (ValueError, TypeError, KeyError, NotImplementedError) as exception:
            return self.exit_codes.ERROR_INVALID_DFT_INPUTS.format(detail=f'{type(exception).__name__}: {exception}')
        builder.metadata.call_link_label = 'dft'
        node = self.submit(builder)
        self.report(f'{node.process_label}<{node.pk}> runs on the prototype {self.ctx.prototype.label}')
        return ToContext(dft=node)

    def results(self):
        """Return the DFT outputs (under ``dft``); fail with the DFT WorkChain's own status and message."""
        node = self.ctx.dft
        self.out_many(AttributeDict(self.exposed_outputs(node, PwBaseWorkChain, namespace='dft')))
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_DFT_FAILED.format(
                process=node.process_label, pk=node.pk, status=node.exit_status, detail=node.exit_message
            )
        energy = node.outputs.output_parameters.get('energy')
        self.report(f'total energy of the prototype: {energy} eV')
        return None
