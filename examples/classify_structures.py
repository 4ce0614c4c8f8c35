"""Classify a few crystal structures with provenance: ``verdi run examples/classify_structures.py [MODEL_FILE]``.

Builds StructureData nodes (as you would import your own), runs ClassifyStructuresWorkChain on them with the bundled
model (or the model file given), and prints each prediction with the nodes it came from. About a minute.
"""

import sys
from pathlib import Path

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import DataFactory, WorkflowFactory
from ase.build import bulk

ClassifyStructuresWorkChain = WorkflowFactory('crystalface.classify')
ConvNetModelData = DataFactory('crystalface.model')

crystals = {
    'Cu_fcc': bulk('Cu', 'fcc', a=3.61, cubic=True),
    'Fe_bcc': bulk('Fe', 'bcc', a=2.87, cubic=True),
    'Si_diamond': bulk('Si', 'diamond', a=5.43, cubic=True),
    'Po_sc': bulk('Po', 'sc', a=3.35),
    'W_bcc_hot': bulk('W', 'bcc', a=3.16, cubic=True).repeat((4, 4, 4)),
}
crystals['W_bcc_hot'].rattle(stdev=0.1, seed=7)  # thermal-like disorder, seeded
structures = {name: orm.StructureData(ase=atoms).store() for name, atoms in crystals.items()}

inputs = {'structures': structures}
if len(sys.argv) > 1:
    inputs['model'] = ConvNetModelData.get_or_create(Path(sys.argv[1]).resolve())
results, node = run_get_node(ClassifyStructuresWorkChain, **inputs)
print(f'{node.process_label}<{node.pk}>: {node.process_state.value}, exit status {node.exit_status}')
print(f'{"structure":<12} {"label":<8} {"p":>6}  prediction node -> fingerprint node')
for name in structures:
    prediction = results['predictions'][name]
    fingerprint = results['fingerprints'][name]
    print(
        f'{name:<12} {prediction.predicted_class:<8} {prediction.max_probability:6.3f}  '
        f'{prediction.pk} -> {fingerprint.pk}'
    )
