"""`python -m tq_gguf info`: what is loaded, so a user can tell our kernels from stock ones."""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import sys

from tq_gguf import __version__, runtime

# ggml_cpu_has_* report what the library was compiled with; /proc/cpuinfo what the CPU has.
COMPILED_FEATURES = ("avx", "avx2", "avx_vnni", "fma", "f16c", "avx512", "avx512_vbmi",
                     "avx512_vnni", "avx512_bf16", "amx_int8", "neon", "dotprod",
                     "matmul_int8", "sve")
CPUINFO_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                 "avx_vnni", "avx512_bf16", "amx_int8", "asimd", "asimddp", "i8mm")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Hardware", "CPU part")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def runtime_cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in CPUINFO_FLAGS if flag in have]
    except OSError:
        pass
    return []


def _devices(libs: dict[str, str]) -> list[str]:
    path = libs.get("libggml")
    if path is None:
        return []
    ggml = ctypes.CDLL(path)
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for fn in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(ggml, fn).restype = ctypes.c_char_p
        getattr(ggml, fn).argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                             ctypes.POINTER(ctypes.c_size_t)]
    out = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        ggml.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        mem = f", {total.value / 2**30:.1f} GiB" if total.value else ""
        out.append(f"{ggml.ggml_backend_dev_name(dev).decode()}: "
                   f"{ggml.ggml_backend_dev_description(dev).decode()}{mem}")
    return out


def _compiled_features(libs: dict[str, str]) -> list[str]:
    path = libs.get("libggml-cpu")
    if path is None:
        return []
    cpu = ctypes.CDLL(path)
    return [name for name in COMPILED_FEATURES
            if getattr(cpu, f"ggml_cpu_has_{name}", None) is not None
            and getattr(cpu, f"ggml_cpu_has_{name}")()]


def _cpu_kernel_choice(libs: dict[str, str]) -> str | None:
    """Which TQ CPU kernels run: ours (with the ISA variant chosen) or upstream's
    (TQ_GGUF_CPU_KERNELS=upstream). Exported by ggml_patches/cpu/tq-dispatch.c."""
    path = libs.get("libggml-cpu")
    cpu = ctypes.CDLL(path) if path else None
    enabled = getattr(cpu, "tq_gguf_cpu_kernels_enabled", None)
    variant = getattr(cpu, "tq_gguf_cpu_vec_dot_variant", None)
    if enabled is None or variant is None:
        return None
    variant.restype = ctypes.c_char_p
    if not enabled():
        return "upstream (TQ_GGUF_CPU_KERNELS=upstream): upstream vec_dot, no TQ repacking"
    return f"tq_gguf: vec_dot {variant().decode()}, repacked GEMM for prompts"


def collect() -> dict:
    """Everything `info` prints, as a dict (the tests read it too)."""
    problems = runtime.environment_problems()
    report: dict = {"tq_gguf": __version__, "python": sys.version.split()[0],
                    "lib_dir": str(runtime.lib_dir()), "problems": problems}
    try:
        import llama_cpp
    except Exception as e:  # a broken or foreign llama_cpp must still be reported, not crash
        report["llama_cpp_error"] = f"{type(e).__name__}: {e}"
        return report
    report["llama_cpp"] = f"{getattr(llama_cpp, '__version__', '?')} at {llama_cpp.__file__}"
    libs = runtime.loaded_libraries()
    report["loaded"] = libs
    report["library_version"] = runtime.loaded_version()
    build_record = runtime.lib_dir() / "tq_gguf_build.json" if runtime.lib_dir() else None
    if build_record is not None and build_record.is_file():
        report["build"] = json.loads(build_record.read_text())
    report["devices"] = _devices(libs)
    report["cpu"] = _cpu_model()
    report["cpu_features_compiled"] = _compiled_features(libs)
    report["cpu_features_detected"] = runtime_cpu_flags()
    report["tq_cpu_kernels"] = _cpu_kernel_choice(libs)
    report["system_info"] = llama_cpp.llama_print_system_info().decode()
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tq_gguf info", description=__doc__)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    r = collect()
    if args.json:
        print(json.dumps(r, indent=1))
        return 0 if r.get("library_version") else 1
    ours = r.get("library_version")
    print(f"tq_gguf            {r['tq_gguf']} (Python {r['python']})")
    print(f"llama_cpp          {r.get('llama_cpp', r.get('llama_cpp_error'))}")
    print(f"library folder     {r['lib_dir']}")
    for name, path in sorted(r.get("loaded", {}).items()):
        print(f"  loaded           {path}")
    print(f"kernels            {ours if ours else 'STOCK llama.cpp: tq_gguf kernels are NOT loaded'}")
    if "build" in r:
        b = r["build"]
        print(f"build              CUDA={b.get('ggml_cuda')} native={b.get('ggml_native')} "
              f"cuda_arch={b.get('cuda_architectures') or '-'}")
    if r.get("tq_cpu_kernels"):
        print(f"TQ CPU kernels     {r['tq_cpu_kernels']}")
    print(f"CPU                {r.get('cpu', '?')}")
    print(f"  compiled in      {' '.join(r.get('cpu_features_compiled', [])) or '-'}")
    print(f"  detected         {' '.join(r.get('cpu_features_detected', [])) or '-'}")
    print("backends/devices   " + ("\n                   ".join(r.get("devices", [])) or "-"))
    for problem in r["problems"]:
        print(f"WARNING: {problem}")
    return 0 if ours else 1


if __name__ == "__main__":
    sys.exit(main())
