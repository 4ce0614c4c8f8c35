"""WorkChains, registered as ``crystalface.*`` entry points in ``aiida.workflows``: classify, train, experiments."""
