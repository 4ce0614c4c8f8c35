"""Classify defective crystals and compute their ideal prototypes with Quantum ESPRESSO.

``verdi run examples/classify_and_compute.py [MODEL_FILE]``

Needs pw.x and the UPF files of Debian's ``quantum-espresso`` and ``quantum-espresso-data`` packages; the first step
is the project's own setup (what ``aiida-crystalface dft setup`` does: localhost, the ``pw@localhost`` code, the
``crystalface/qe-examples/LDA`` pseudopotential family; nothing is changed when they exist). Then, for a silicon and
a copper crystal with vacancies and thermal-like displacements, ClassifyAndComputeWorkChain classifies the structure,
builds the ideal crystal of the predicted class and runs one SCF with pw.x on it. About half a minute.
"""

import sys
from pathlib import Path

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import DataFactory, WorkflowFactory
from ase.build import bulk

from aiida_crystalface import dft_setup

ClassifyAndComputeWorkChain = WorkflowFactory('crystalface.classify_and_compute')
ConvNetModelData = DataFactory('crystalface.model')

setup = dft_setup.setup()  # raises DftSetupError, naming the packages to install, when pw.x or the files are missing
print(f'code {setup.code.full_label}, pseudopotential family {setup.family.label}')

crystals = {
    'Si_defective': bulk('Si', 'diamond', a=5.43, cubic=True).repeat((2, 2, 2)),
    'Cu_defective': bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 3, 3)),
}
for seed, atoms in enumerate(crystals.values()):
    del atoms[[0, 5, 17, 30]]  # vacancies
    atoms.rattle(stdev=0.05, seed=seed)  # displacements, seeded
structures = {name: orm.StructureData(ase=atoms).store() for name, atoms in crystals.items()}

inputs = {
    'code': setup.code,
    'pseudo_family': orm.Str(setup.family.label),
    'protocol': orm.Str('fast'),
    'min_probability': orm.Float(0.9),
    'cell': orm.Str('primitive'),
    # Overrides of the protocol (here: a coarser k-point mesh); the family gives the recommended cutoffs.
    'overrides': orm.Dict({'kpoints_distance': 0.4}),
}
if len(sys.argv) > 1:
    inputs['model'] = ConvNetModelData.get_or_create(Path(sys.argv[1]).resolve())

print(f'{"structure":<14} {"atoms":>5} {"label":<8} {"p":>6}  {"prototype":<52} {"E (eV/atom)":>12}  exit status')
for name, structure in structures.items():
    results, node = run_get_node(ClassifyAndComputeWorkChain, structure=structure, **inputs)
    classification = results.get('classification')
    prototype = results.get('prototype')
    label = (
        f'{classification.predicted_class:<8} {classification.max_probability:6.3f}' if classification else f'{"-":<15}'
    )
    energy = '-'
    if 'dft' in results:
        energy = f'{results["dft"]["output_parameters"]["energy"] / len(prototype.sites):12.4f}'
    proto = prototype.label if prototype else '-'
    print(f'{name:<14} {len(structure.sites):>5} {label}  {proto:<52} {energy:>12}  exit status {node.exit_status}')
    if not node.is_finished_ok:
        print(f'  {node.process_label}<{node.pk}>: {node.exit_message}')
print(f'Provenance: `verdi node graph generate {node.pk}` draws the chain of the last one.')
