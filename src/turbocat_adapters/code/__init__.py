"""The CODE agent's runner: untrusted code in a confined child process (bubblewrap if present)."""

from turbocat_adapters.code.runner import SandboxMode, SubprocessCodeRunner
from turbocat_adapters.code.sandbox import Isolation

__all__ = ["Isolation", "SandboxMode", "SubprocessCodeRunner"]
