"""`python -m tq_gguf COMMAND`: the project's command-line entry points."""

from __future__ import annotations

import sys

COMMANDS = {
    "info": ("tq_gguf.info", "what is loaded: our version, patch set, library path, backends, CPU features, CUDA devices"),
    "demo": ("tq_gguf.demo", "the whole pipeline on the shipped tiny TriLM: convert, load with Llama, generate, compare"),
    "convert": ("tq_gguf.convert.__main__", "convert a TriLM checkpoint (Hugging Face layout) to a TQ1_0/TQ2_0 GGUF"),
    "build-tools": ("tq_gguf.build_tools", "build llama-bench, llama-quantize, test-backend-ops, ... on the patched tree"),
}


def usage() -> str:
    lines = ["usage: python -m tq_gguf COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `python -m tq_gguf COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    import importlib
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
