"""tq_gguf: ternary (TQ1_0 / TQ2_0) language models in the llama.cpp / GGUF ecosystem.

Importing tq_gguf checks, without loading any library, that the `llama_cpp` in this
environment runs our patched llama.cpp, and warns plainly when it does not
(see tq_gguf.runtime). Set TQ_GGUF_NO_ENV_CHECK=1 to skip the check.
"""

import os as _os
import warnings as _warnings

__version__ = "0.1.0"


class LlamaCppEnvironmentWarning(UserWarning):
    """llama_cpp in this environment would not run tq_gguf's kernels."""


if not _os.environ.get("TQ_GGUF_NO_ENV_CHECK"):
    from tq_gguf import runtime as _runtime

    for _problem in _runtime.environment_problems():
        _warnings.warn(_problem, LlamaCppEnvironmentWarning, stacklevel=2)
