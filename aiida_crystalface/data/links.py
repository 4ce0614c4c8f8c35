"""Link validation for the nodes that calcfunctions create by the thousand."""

from __future__ import annotations

from aiida.common.links import LinkType
from aiida.orm.nodes.links import NodeLinks
from aiida.orm.utils.links import validate_link

__all__ = ('OutputNodeLinks',)


class OutputNodeLinks(NodeLinks):
    """``NodeLinks`` that skips the graph-cycle query for a node that is not stored yet.

    ``NodeLinks.validate_incoming`` asks the database whether the new link would close a cycle, by looking for this
    node among the descendants of the source. A node that is not stored has no primary key and no descendants in the
    database, so that query always answers no: skipping it changes no outcome and saves a query per output (a batch
    of 500 fingerprints is 500 queries). Every other check (link types, uniqueness, degrees) still runs.
    """

    def validate_incoming(self, source, link_type: LinkType, link_label: str) -> None:
        if self._node.is_stored:
            super().validate_incoming(source, link_type, link_label)
            return
        validate_link(source, self._node, link_type, link_label, backend=self._node.backend)
