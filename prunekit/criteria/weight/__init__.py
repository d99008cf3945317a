"""Weight criteria, one module per method; importing this package registers every one of them.

A new weight criterion is one new module here (a ``Criterion`` subclass decorated with ``register``)
plus its test: every module of this package is imported below.
"""

from prunekit.criteria.base import register_package

register_package(__name__, __path__)
