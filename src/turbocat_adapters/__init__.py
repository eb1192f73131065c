"""Turbocat's runtime: embed it in a Python program with :class:`Turbocat`.

```python
from turbocat_adapters import Turbocat

tc = Turbocat("sqlite:///runs.db")   # runs.db here; or Turbocat() in memory


@tc.function
async def total(inputs, ctx):
    await ctx.log("adding")
    return {"sum": sum(inputs["values"])}


async with tc:
    execution = await tc.run("etl.yaml", inputs={"values": [1, 2, 3]})
```

:func:`function` registers a module's functions for servers and workers
(``turbocat serve --functions module``, ``turbocat worker --functions module``); a
``Turbocat`` runs them too.

The domain types (``Execution``, ``ExecutionStatus``...) and the errors
(``ValidationFailed``, ``NonRetryableError``...) come from ``turbocat_core``. The rest of
this package (the adapters, the container) is internal and may move; these names may not.
The runtime is imported when first used, so importing an adapter module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turbocat_adapters.embedding import Turbocat
    from turbocat_adapters.functions import function
    from turbocat_adapters.settings import Settings
    from turbocat_adapters.store_lock import StoreInUse

__all__ = ["Settings", "StoreInUse", "Turbocat", "function"]

_HOMES = {
    "Turbocat": "turbocat_adapters.embedding",
    "Settings": "turbocat_adapters.settings",
    "StoreInUse": "turbocat_adapters.store_lock",
    "function": "turbocat_adapters.functions",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'turbocat_adapters' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
