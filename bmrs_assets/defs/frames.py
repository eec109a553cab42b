"""``Frame``: the type of a table an asset receives, named without importing pandas.

Dagster reads an asset's parameter annotations when the code location loads (to type its inputs),
so an annotation must resolve then. ``Frame`` is a pandas ``DataFrame`` to a type checker and ``Any``
to Dagster: the warehouse IO manager hands assets frames, and pandas is imported by the run that
reads one, not by every process that loads the definitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from pandas import DataFrame as Frame
else:
    Frame: TypeAlias = Any
