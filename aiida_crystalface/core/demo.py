"""The demo's small set of structures: pristine crystals of the four classes and seeded defective copies.

Defects act on the replicated conventional cell, as for the paper's defective set; one more kind gives the same sort
of defective crystal as a user may bring it: a supercell of the primitive cell, rotated at random (the orientation step
finds its lattice). Everything is in the package's internal form; nothing here touches AiiDA.
"""

from __future__ import annotations

import numpy as np

__all__ = ('DEFECT_KINDS', 'DEMO_SPECIES', 'demo_structures')

#: Species of the demo: one per row of the table, light to heavy, metals and covalent elements.
DEMO_SPECIES = ('Al', 'Si', 'Fe', 'Cu', 'Mo', 'Ag', 'W', 'Au')

#: Defect kinds of the demo and the function making each (name: (defects function, level)).
DEFECT_KINDS = {
    'pristine': (None, 0.0),
    'vacancies 25%': ('vacancies', 0.25),
    'vacancies 50%': ('vacancies', 0.50),
    'displacements 0.1 A': ('displacements', 0.10),
    'substitutions 25%': ('substitutions', 0.25),
    'vacancies 25%, any cell': ('presentation', 0.25),  # a rotated supercell of the primitive cell
}

#: Conventional repeats of the crystal behind the rotated primitive-cell presentation (at least 64 sites).
_PRESENTATION_REPEATS = {'fcc': 3, 'diamond': 2, 'bcc': 4, 'sc': 4}


def demo_structures(seed: int = 0, species=DEMO_SPECIES, target_atoms: int = 128) -> list[tuple]:
    """Return ``(structure, true_label, defect_kind)`` for every species x class x defect kind, seeded by ``seed``."""
    from aiida_crystalface.core import defects
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.presentations import defective_presentations
    from aiida_crystalface.core.prototypes import CLASSES, prototype

    seeds = np.random.SeedSequence(seed).generate_state(len(species) * len(CLASSES) * len(DEFECT_KINDS))
    items = []
    for symbol in species:
        for label in CLASSES:
            pristine = replicate(prototype(symbol, label, representation='conventional'), target_atoms)
            for kind, (function, level) in DEFECT_KINDS.items():
                item_seed = int(seeds[len(items)])
                if function is None:
                    structure = pristine.replace(label=f'{label}-{symbol}')
                elif function == 'presentation':
                    structure = defective_presentations(
                        symbol, label, _PRESENTATION_REPEATS[label], vacancy=level, seed=item_seed
                    )['c-b']
                else:
                    structure = getattr(defects, function)(pristine, level, item_seed)
                structure.info.update(true_label=label, demo_kind=kind, demo_seed=item_seed)
                items.append((structure, label, kind))
    return items
