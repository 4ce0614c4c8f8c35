"""The demo's small set of structures: pristine crystals of the four classes and seeded defective copies.

Defects act on the replicated conventional cell (spglib cannot standardise a defective structure), as for the
paper's defective set. Everything is in the package's internal form; nothing here touches AiiDA.
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
}


def demo_structures(seed: int = 0, species=DEMO_SPECIES, target_atoms: int = 128) -> list[tuple]:
    """Return ``(structure, true_label, defect_kind)`` for every species x class x defect kind, seeded by ``seed``."""
    from aiida_crystalface.core import defects
    from aiida_crystalface.core.cluster import replicate
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
                else:
                    structure = getattr(defects, function)(pristine, level, item_seed)
                structure.info.update(true_label=label, demo_kind=kind, demo_seed=item_seed)
                items.append((structure, label, kind))
    return items
