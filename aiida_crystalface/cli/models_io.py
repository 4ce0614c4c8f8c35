"""Find the classifier a command should use: a model file, a stored model node, or the bundled model."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ('load_classifier', 'load_model_node')


def load_classifier(model: str | None, *, use_profile: bool):
    """Return a :class:`~aiida_crystalface.ml.Classifier` for ``--model`` (a file, a node UUID / PK, or ``None``)."""
    from aiida_crystalface.ml import Classifier, ModelFileError

    try:
        if model is None:
            return Classifier.pretrained()
        if Path(model).is_file():
            return Classifier.load(model)
    except ModelFileError as exception:
        raise click.BadParameter(str(exception), param_hint='--model') from None
    if not use_profile:
        raise click.BadParameter(
            f'{model!r} is not a model file (this command runs without a profile, so it takes no node)',
            param_hint='--model',
        )
    return load_model_node(model).load_classifier()


def load_model_node(identifier: str):
    """Return the stored model node with UUID (or a unique prefix of it) or PK ``identifier``."""
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.orm import load_node

    from aiida_crystalface.data.model import ConvNetModelData

    try:
        node = load_node(identifier)
    except (NotExistent, MultipleObjectsError, ValueError) as exception:
        raise click.BadParameter(
            f'{identifier!r} is neither a model file nor a model node: {exception}', param_hint='--model'
        ) from None
    if not isinstance(node, ConvNetModelData):
        raise click.BadParameter(
            f'node {identifier!r} is a {type(node).__name__}, not a ConvNetModelData model node', param_hint='--model'
        )
    return node
