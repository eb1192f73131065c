"""The users' testing kit (docs/testing.md): the time-skipping test runtime
(``Turbocat.for_tests()``), Hypothesis strategies (``turbocat_adapters.testing.strategies``,
extra ``testing``) and a pytest plugin with the fixture ``turbocat``.

Importing this package imports neither Hypothesis nor pytest.
"""

from turbocat_adapters.testing.clock import VirtualClock
from turbocat_adapters.testing.runtime import SeededRandom, TurbocatUnderTest

__all__ = ["SeededRandom", "TurbocatUnderTest", "VirtualClock"]
