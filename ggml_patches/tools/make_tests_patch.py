#!/usr/bin/env python3
"""Regenerate ggml_patches/30-tests-backend-ops.patch: TQ1_0/TQ2_0 cases for test-backend-ops.

Usage: make_tests_patch.py PRISTINE_LLAMA_CPP_ROOT OUT_PATCH
Adds (eval mode, compared against the CPU backend) MUL_MAT for n = 1..8, 16, 32, 64, 512 and odd
sizes, broadcast / permuted / strided-view sources, MUL_MAT_ID and GET_ROWS for both ternary types,
and (perf mode) 70B-class shapes 8192 x 28672 and 28672 x 8192 for F16, Q4_0, Q2_0, TQ2_0, TQ1_0.

Stale: the patch was extended by hand after this script (MUL_MAT_SHARED_SRC1, MUL_MAT_VEC_FUSION,
K = 9216 and the batch 9..512 cases), so running it drops those. Edit the patch instead: apply it to a pristine tree, edit
tests/test-backend-ops.cpp, and `diff -u --label a/tests/test-backend-ops.cpp --label b/...` the file.
"""
import difflib, pathlib, sys

root = pathlib.Path(sys.argv[1]); out = pathlib.Path(sys.argv[2])
p = "tests/test-backend-ops.cpp"
a = (root / p).read_text()
b = a

EVAL_ANCHOR = "    // Multi-column MMVQ coverage for the Q4_K weight-reuse path and a Q5_K control.\n"
EVAL = r'''    // tq_gguf: ternary types on every path of a GPU backend (mat-vec, batched int8 mma, cuBLAS
    // fallback through dequantize), odd sizes, broadcasting, permuted and strided views.
    for (ggml_type type_a : { GGML_TYPE_TQ2_0, GGML_TYPE_TQ1_0 }) {
        for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 32, 64, 67, 129, 512}) {
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 256, n, 1024, {1, 1}, {1, 1}));
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32,  67, n,  768, {1, 1}, {1, 1}));
        }
        for (int n : {1, 2, 3, 4, 5, 6, 7, 8}) {
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 1023, n, 4096,  {1, 1}, {1, 1}));
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32,  129, n, 14336, {1, 1}, {1, 1}));
        }
        for (int n : {1, 8, 64}) {
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 128, n, 512, {2, 3}, {2, 2}));               // broadcast
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 128, n, 512, {2, 3}, {1, 1}, {0, 2, 1, 3})); // permuted
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 128, n, 512, {1, 1}, {1, 1}, {0, 1, 2, 3}, 1024)); // k view
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 128, n, 512, {2, 1}, {1, 1}, {0, 1, 2, 3}, 0, 1, false, 160)); // m view
        }
        for (int n : {1, 4, 8, 32, 129}) {
            test_cases.emplace_back(new test_mul_mat_id(type_a, GGML_TYPE_F32, 4, 2, false, 256, n, 512));
            test_cases.emplace_back(new test_mul_mat_id(type_a, GGML_TYPE_F32, 8, 4, true,  128, n, 256));
        }
        test_cases.emplace_back(new test_get_rows(type_a, 256,  5,  3));
        test_cases.emplace_back(new test_get_rows(type_a, 1024, 64, 17, 2, 3));
        test_cases.emplace_back(new test_get_rows(type_a, 512,  8,  4, 1, 1, true));
    }

'''
assert b.count(EVAL_ANCHOR) == 1
b = b.replace(EVAL_ANCHOR, EVAL + EVAL_ANCHOR)

PERF_ANCHOR = "    // Q4_K multi-column mat-vec\n"
PERF = r'''    // tq_gguf: 70B-class projections (up/gate 8192 -> 28672, down 28672 -> 8192)
    for (int bs : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {
        for (ggml_type type_a : {GGML_TYPE_F16, GGML_TYPE_Q4_0, GGML_TYPE_Q2_0, GGML_TYPE_TQ2_0, GGML_TYPE_TQ1_0}) {
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 28672, bs, 8192,  {1, 1}, {1, 1}));
            test_cases.emplace_back(new test_mul_mat(type_a, GGML_TYPE_F32, 8192,  bs, 28672, {1, 1}, {1, 1}));
        }
    }

'''
assert b.count(PERF_ANCHOR) == 1
b = b.replace(PERF_ANCHOR, PERF + PERF_ANCHOR)

out.write_text("".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "a/" + p, "b/" + p)))
print("wrote", out)
