"""Node criteria, one module per method; importing this package registers every one of them.

A new node criterion is one new module here (a ``NodeCriterion`` subclass decorated with
``register_node_criterion``) plus its test: every module of this package is imported below.
"""

from prunekit.criteria.base import register_package

register_package(__name__, __path__)
