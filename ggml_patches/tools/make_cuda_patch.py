#!/usr/bin/env python3
"""Regenerate ggml_patches/20-cuda-tq.patch: hook tq_gguf's cuda/ sources into ggml-cuda.

Usage: make_cuda_patch.py PRISTINE_LLAMA_CPP_ROOT OUT_PATCH
Edits are anchored on upstream lines (asserted to exist exactly once where it matters), so a
changed pin fails loudly here instead of producing a patch that silently misses a switch.
Only includes, table entries, switch cases, one enum value and one constexpr line (the TQ
activation layout in quantize.cu) are added; all code lives in cuda/.
"""
import difflib, pathlib, sys

root = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
D = "ggml/src/ggml-cuda/"
files = {}

def get(p):
    if p not in files:
        files[p] = [(root / p).read_text(), None]
        files[p][1] = files[p][0]
    return files[p][1]

def put(p, s):
    files[p][1] = s

def after(p, anchor, text, count=1):
    s = get(p)
    n = s.count(anchor)
    assert n == count, (p, anchor, n)
    put(p, s.replace(anchor, anchor + text))

def before(p, anchor, text, count=1):
    s = get(p)
    n = s.count(anchor)
    assert n == count, (p, anchor, n)
    put(p, s.replace(anchor, text + anchor))

def replace(p, old, new):
    s = get(p)
    assert s.count(old) == 1, (p, old)
    put(p, s.replace(old, new))

def append(p, text):
    put(p, get(p) + text)

# type traits + helpers
append(D + "common.cuh", '\n// tq_gguf: TQ1_0 / TQ2_0 type traits and decode helpers (cuda/ of tq_gguf)\n#include "tq-common.cuh"\n')
append(D + "dequantize.cuh", '\n#include "tq-dequantize.cuh" // tq_gguf\n')
append(D + "vecdotq.cuh", '\n#include "tq-vecdotq.cuh" // tq_gguf\n')
append(D + "mmq-load-tiles.cuh", '\n#include "tq-mmq.cuh" // tq_gguf\n')
append(D + "mmq-vec-dot.cuh", '\n#include "tq-mmq-vec-dot.cuh" // tq_gguf\n')

# quantize.cu: the D4_SHARED activation layout (mmq.cuh below): the amax over 128 values (one warp)
qz = D + "quantize.cu"
replace(qz, "    constexpr int vals_per_scale = ds_layout == MMQ_Q8_1_DS_LAYOUT_D2S6 ? 64 : 32;\n",
        "    constexpr int vals_per_scale = ds_layout == MMQ_Q8_1_DS_LAYOUT_D2S6 ? 64 :\n"
        "        ds_layout == MMQ_Q8_1_DS_LAYOUT_D4_SHARED ? 128 : 32; // tq_gguf\n")
for scatter, launch in (("false", "\n                <<<num_blocks, block_size, 0, stream>>>(x, ids, vy, ne00, s01, s02, s03, ne0, ne1, ne2, /*n_expert_used=*/0);\n"),
                        ("true", "<<<num_blocks, block_size, 0, stream>>>(\n                x, ids_src1_inv, vy, ne00, /*s01=*/0, /*s02=*/stride_token, /*s03=*/0, ne0, /*ne1=*/(int) nrows_dst, /*ne2=*/1, n_expert_used);\n")):
    case = "        case MMQ_Q8_1_DS_LAYOUT_%s:\n            quantize_mmq_q8_1<MMQ_Q8_1_DS_LAYOUT_%s, " + scatter + ">" + launch + "            break;\n"
    after(qz, case % ("D4", "D4"), (case % ("D4_SHARED", "D4_SHARED")).replace(":\n", ": // tq_gguf\n", 1))

# convert.cu: 3 contiguous + 3 strided switches, all have a Q2_0 case to anchor on
cv = D + "convert.cu"
after(cv, "            return dequantize_block_cont_cuda<QK2_0, QR2_0, dequantize_q2_0>;\n",
      "        case GGML_TYPE_TQ2_0: // tq_gguf\n"
      "            return dequantize_row_tq_cuda<block_tq2_0>;\n"
      "        case GGML_TYPE_TQ1_0: // tq_gguf\n"
      "            return dequantize_row_tq_cuda<block_tq1_0>;\n", count=3)
after(cv, "            return dequantize_block_cuda<QK2_0, QR2_0, dequantize_q2_0>;\n",
      "        case GGML_TYPE_TQ2_0: // tq_gguf\n"
      "            return dequantize_block_cuda<QK_K, 1, dequantize_tq2_0>;\n"
      "        case GGML_TYPE_TQ1_0: // tq_gguf\n"
      "            return dequantize_block_cuda<QK_K, 1, dequantize_tq1_0>;\n", count=3)

# getrows.cu
gr = D + "getrows.cu"
after(gr, "            get_rows_cuda_q<QK2_0, QR2_0, dequantize_q2_0>(src0_d, src1_d, dst_d,\n"
          "                ne00, nb01, nb02, nb03, ne10, ne11, ne12, nb10, nb11, nb12, nb1, nb2, nb3, stream);\n"
          "            break;\n",
      "        case GGML_TYPE_TQ2_0: // tq_gguf\n"
      "            get_rows_cuda_q<QK_K, 1, dequantize_tq2_0>(src0_d, src1_d, dst_d,\n"
      "                ne00, nb01, nb02, nb03, ne10, ne11, ne12, nb10, nb11, nb12, nb1, nb2, nb3, stream);\n"
      "            break;\n"
      "        case GGML_TYPE_TQ1_0: // tq_gguf\n"
      "            get_rows_cuda_q<QK_K, 1, dequantize_tq1_0>(src0_d, src1_d, dst_d,\n"
      "                ne00, nb01, nb02, nb03, ne10, ne11, ne12, nb10, nb11, nb12, nb1, nb2, nb3, stream);\n"
      "            break;\n")

# mmvq.cu
mv = D + "mmvq.cu"
after(mv, "        case GGML_TYPE_Q2_0:    return vec_dot_q2_0_q8_1;\n",
      "        case GGML_TYPE_TQ2_0:   return vec_dot_tq2_0_q8_1; // tq_gguf\n"
      "        case GGML_TYPE_TQ1_0:   return vec_dot_tq1_0_q8_1; // tq_gguf\n")
after(mv, "        case GGML_TYPE_Q2_0:    return VDR_Q2_0_Q8_1_MMVQ;\n",
      "        case GGML_TYPE_TQ2_0:   return VDR_TQ2_0_Q8_1_MMVQ; // tq_gguf\n"
      "        case GGML_TYPE_TQ1_0:   return VDR_TQ1_0_Q8_1_MMVQ; // tq_gguf\n")
sw = ("        case GGML_TYPE_{T}:\n"
      "            mul_mat_vec_q_switch_ncols_dst<GGML_TYPE_{T}>\n"
      "                (vx, vy, ids, fusion, dst, ncols_x, nrows_x, ncols_dst, stride_row_x, stride_col_y, stride_col_dst,\n"
      "                 nchannels_x, nchannels_y, nchannels_dst, stride_channel_x, stride_channel_y, stride_channel_dst,\n"
      "                 nsamples_x, nsamples_dst, stride_sample_x, stride_sample_y, stride_sample_dst, ids_stride, stream);\n"
      "            break;\n")
after(mv, sw.format(T="Q2_0"), sw.format(T="TQ2_0").replace(":\n", ": // tq_gguf\n", 1) + sw.format(T="TQ1_0").replace(":\n", ": // tq_gguf\n", 1))

# mmq.cuh
mq = D + "mmq.cuh"
# activations of TQ batches: one scale per 128 values, so the TQ vec_dot sums int32 over 4 mmas
after(mq, "    MMQ_Q8_1_DS_LAYOUT_D4,\n",
      "    MMQ_Q8_1_DS_LAYOUT_D4_SHARED, // tq_gguf: D4 with one scale per 128 values (all four d equal)\n")
before(mq, "        case GGML_TYPE_Q1_0:\n        case GGML_TYPE_Q2_0:\n            return MMQ_Q8_1_DS_LAYOUT_D4;\n",
       "        case GGML_TYPE_TQ2_0: // tq_gguf (cuda/tq-mmq-vec-dot.cuh)\n"
       "        case GGML_TYPE_TQ1_0:\n"
       "            return MMQ_Q8_1_DS_LAYOUT_D4_SHARED;\n")
after(mq, "        case GGML_TYPE_Q2_0:    return MMQ_DP4A_TXS_Q8_0;\n",
      "        case GGML_TYPE_TQ2_0:   return MMQ_DP4A_TXS_Q8_0; // tq_gguf\n"
      "        case GGML_TYPE_TQ1_0:   return MMQ_DP4A_TXS_Q8_0; // tq_gguf\n")
dp4a = ("            case GGML_TYPE_Q2_0:\n"
        "                return ggml_cuda_mmq_util_funcs(\n"
        "                    VDR_Q2_0_Q8_1_MMQ,\n"
        "                    ggml_cuda_mmq_load_tiles_q2_0<type, J, fallback>,\n"
        "                    ggml_cuda_mmq_vec_dot_q8_0_q8_1_dp4a<type, J, fallback>,\n"
        "                    ggml_cuda_mmq_write_back_dp4a<type, J, fallback>);\n")
after(mq, dp4a, "".join(
        "            case GGML_TYPE_%s: // tq_gguf\n"
        "                return ggml_cuda_mmq_util_funcs(\n"
        "                    VDR_Q8_0_Q8_1_MMQ,\n"
        "                    ggml_cuda_mmq_load_tiles_%s<type, J, fallback>,\n"
        "                    ggml_cuda_mmq_vec_dot_q8_0_q8_1_dp4a<type, J, fallback>,\n"
        "                    ggml_cuda_mmq_write_back_dp4a<type, J, fallback>);\n" % (T, t)
        for T, t in (("TQ2_0", "tq2_0"), ("TQ1_0", "tq1_0"))))
mma = ("        case GGML_TYPE_Q2_0:\n"
       "            return ggml_cuda_mmq_util_funcs(\n"
       "                -1,\n"
       "                ggml_cuda_mmq_load_tiles_q2_0<type, J, fallback>,\n"
       "                ggml_cuda_mmq_vec_dot_q8_0_q8_1_mma<type, J, fallback, MMQ_Q8_1_DS_LAYOUT_D4>,\n"
       "                ggml_cuda_mmq_write_back_mma<type, J, fallback>);\n")
after(mq, mma, "".join(
        "        case GGML_TYPE_%s: // tq_gguf\n"
        "            return ggml_cuda_mmq_util_funcs(\n"
        "                -1,\n"
        "                ggml_cuda_mmq_load_tiles_%s<type, J, fallback>,\n"
        "                ggml_cuda_mmq_vec_dot_tq_q8_1_mma<type, J, fallback>,\n"
        "                ggml_cuda_mmq_write_back_mma<type, J, fallback>);\n" % (T, t)
        for T, t in (("TQ2_0", "tq2_0"), ("TQ1_0", "tq1_0"))))
after(mq, "extern DECL_MMQ_CASE(GGML_TYPE_Q2_0);\n",
      "extern DECL_MMQ_CASE(GGML_TYPE_TQ2_0); // tq_gguf (cuda/mmq-instance-tq2_0.cu)\n"
      "extern DECL_MMQ_CASE(GGML_TYPE_TQ1_0); // tq_gguf (cuda/mmq-instance-tq1_0.cu)\n")

# mmq configs: TQ cases before the "not found" return
for arch, mma_cfg in (("ampere", True), ("pascal-dp4a", False), ("pascal-older", False)):
    p = D + "mmq-config-%s.cuh" % arch
    before(p, "\n    return ggml_cuda_mmq_config(GGML_TYPE_COUNT,",
           "\n" + ("#define TQ_MMQ_CONFIG_MMA\n" if mma_cfg else "") + '#include "tq-mmq-config.cuh" // tq_gguf\n')

# mmq.cu
mc = D + "mmq.cu"
after(mc, "        case GGML_TYPE_Q2_0:\n            mul_mat_q_case<GGML_TYPE_Q2_0>(ctx, args, stream);\n            break;\n",
      "        case GGML_TYPE_TQ2_0: // tq_gguf\n            mul_mat_q_case<GGML_TYPE_TQ2_0>(ctx, args, stream);\n            break;\n"
      "        case GGML_TYPE_TQ1_0: // tq_gguf\n            mul_mat_q_case<GGML_TYPE_TQ1_0>(ctx, args, stream);\n            break;\n")
after(mc, "        case GGML_TYPE_Q1_0:\n        case GGML_TYPE_Q2_0:\n        case GGML_TYPE_Q4_0:\n",
      "        case GGML_TYPE_TQ2_0: // tq_gguf\n        case GGML_TYPE_TQ1_0: // tq_gguf\n")
# ...and on tensor-core GPUs, large TQ batches go to dequantize + cuBLAS (cuda/tq-mmq-dispatch.cu)
before(mc, "    if (turing_mma_available(cc)) {\n        return true;\n    }\n",
       "    if (ggml_cuda_is_tq_type(type) && turing_mma_available(cc)) { // tq_gguf\n"
       "        return ggml_cuda_tq_should_use_mmq(cc, ne11, n_experts);\n    }\n")

# ggml-cuda.cu: supports_op (MUL_MAT / MUL_MAT_ID and GET_ROWS)
gc = D + "ggml-cuda.cu"
after(gc, "                    case GGML_TYPE_Q1_0:\n                    case GGML_TYPE_Q2_0:\n",
      "                    case GGML_TYPE_TQ2_0: // tq_gguf\n                    case GGML_TYPE_TQ1_0: // tq_gguf\n", count=2)

# ggml-cuda.cu: the dedicated TQ2_0 decode mat-vec goes first for batch <= 8 (cuda/tq-mmv.cu)
# ...and the batched product (batch 9..512, Hopper) right after it (cuda/tq-mmb.cu)
after(gc, '#include "ggml-cuda/mmvq.cuh"\n', '#include "tq-mmv.cuh" // tq_gguf\n#include "tq-mmb.cuh" // tq_gguf\n')
before(gc, "    if (ggml_cuda_should_use_mmvq(src0->type, cc, ne11)) {\n        ggml_cuda_mul_mat_vec_q(ctx, src0, src1, nullptr, dst);\n",
       "    if (ggml_cuda_tq_mul_mat_vec(ctx, src0, src1, dst)) { // tq_gguf: TQ decode mat-vec (int8 mma)\n        return;\n    }\n"
       "    if (ggml_cuda_tq_mul_mat_batched(ctx, src0, src1, dst)) { // tq_gguf: TQ batches of 9..512 (int8 mma)\n        return;\n    }\n")
# ...and the fused gate/up + GLU mat-vec (mmvq only) is declined where it applies, so MUL_MAT reaches it
after(gc, "                             dst->type == GGML_TYPE_F32 && src1->ne[1] <= MMVQ_MAX_BATCH_SIZE;\n",
      "    if (tensor->op == GGML_OP_MUL_MAT && ggml_cuda_tq_mmv_applies(src0, src1, dst)) { // tq_gguf\n        return false;\n    }\n")

# ...and the graph's fused {MUL_MAT gate, MUL_MAT up, GLU} tries the TQ pair mat-vec first
before(gc, "            if (ggml_cuda_should_fuse_mul_mat_vec_f(up)) {\n",
       "            if (ggml_cuda_tq_mul_mat_vec_glu(*cuda_ctx, up, gate->src[0], glu)) { // tq_gguf\n"
       "                fused_mul_mat_vec = true;\n"
       "                fused_node_count  = 3;\n"
       "                break;\n"
       "            }\n\n")

# ...and the mat-vecs of one input (Q/K/V) in one launch, with the RMS norm in front of them or of a
# gate/up pair: made adjacent in graph_optimize (before allocation), run together in the fusion pass
after(gc, "static int ggml_cuda_try_fuse(ggml_backend_cuda_context * cuda_ctx, ggml_cgraph * cgraph, int i) {\n"
          "\n    static bool disable_fusion = getenv(\"GGML_CUDA_DISABLE_FUSION\") != nullptr && std::atoi(getenv(\"GGML_CUDA_DISABLE_FUSION\"));\n"
          "    if (disable_fusion) {\n        return 0;\n    }\n",
      "\n    if (const int n_tq = ggml_cuda_tq_try_fuse(*cuda_ctx, cgraph, i)) { // tq_gguf\n"
      "        return n_tq - 1;\n    }\n")
after(gc, "static void ggml_backend_cuda_graph_optimize(ggml_backend_t backend, ggml_cgraph * cgraph, ggml_backend_graph_optimize_params * params) {\n"
          "    ggml_backend_cuda_context * cuda_ctx = (ggml_backend_cuda_context *) backend->context;\n",
      "    ggml_cuda_tq_graph_optimize(cgraph); // tq_gguf\n")

# extra hooks registered by later steps
extra = pathlib.Path(__file__).with_name("cuda_patch_extra.py")
if extra.exists():
    exec(extra.read_text())

chunks = []
for p, (a, b) in sorted(files.items()):
    if a == b:
        continue
    chunks += difflib.unified_diff(a.splitlines(True), b.splitlines(True), "a/" + p, "b/" + p)
out.write_text("".join(chunks))
print("wrote", out, sum(1 for p, (a, b) in files.items() if a != b), "files")
