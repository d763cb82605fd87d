// tq_gguf: ggml-cuda entry points of the TQ2_0 / TQ1_0 decode mat-vec (kernel: tq-mmv-kernel.cuh).
// On by default for NVIDIA Ampere+ (int8 mma m16n8k32); TQ_GGUF_CUDA_MMV=0 falls back to mmvq,
// TQ_GGUF_CUDA_MMV_GLU=0 leaves gate/up + GLU unfused (two mat-vecs and ggml's GLU; for A/B measurements),
// TQ_GGUF_CUDA_MMV_QKV=0 runs the mat-vecs of one input (Q/K/V) one launch each, TQ_GGUF_CUDA_MMV_NORM=0
// leaves the RMS norm in front of them to ggml, TQ_GGUF_CUDA_MMV_ADD=0 the residual ADD behind a mat-vec,
// TQ_GGUF_CUDA_MMV_ROPE=0 the ROPE and KV-cache SET_ROWS behind Q/K/V, TQ_GGUF_CUDA_MMV_CONT=0 the copying CONT
// in front of a mat-vec.
#include "tq-mmv.cuh"
#include "tq-mmv-kernel.cuh"
#include "tq-attn.cuh"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

static bool tq_mmv_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV");
    return enabled;
}

bool ggml_cuda_tq_mmv_applies(const ggml_tensor * src0, const ggml_tensor * src1, const ggml_tensor * dst) {
    if (!tq_mmv_enabled() || !ggml_cuda_is_tq_type(src0->type)) {
        return false;
    }
    const int cc = ggml_cuda_info().devices[ggml_cuda_get_device()].cc;
    if (!GGML_CUDA_CC_IS_NVIDIA(cc) || cc < GGML_CUDA_CC_AMPERE) {
        return false;
    }
    const int64_t ne00 = src0->ne[0], ne01 = src0->ne[1], ne11 = src1->ne[1];
    if (ne11 < 1 || ne11 > tq_mmv::MAX_COLS || ne01 > INT_MAX / 8 || !ggml_cuda_tq_is_plain_2d(src0, src1, dst)) {
        return false;
    }
    return tq_mmv::supported((int) (ne00 / QK_K), src0->nb[1], (uintptr_t) src0->data);
}

// Activations that enter the quantization as rms_norm(x, eps)*w: ggml's RMS_NORM and the MUL by the norm
// weight, whose output (normalized activations) nothing else reads, run inside the quantizer.
struct tq_rms_norm {
    const ggml_tensor * x = nullptr; // the RMS_NORM input: F32, K x ncols
    const ggml_tensor * w = nullptr; // the norm weight: K floats
    float eps = 0.0f;
};

// Quantizes src1 (or rms_norm(norm.x)*norm.w where norm.x is set) once and runs one launch over every
// matrix of segs, all of the type, K and row layout of `weights` (one of them); see
// tq_mmv::mul_mat_vec_segments for opt. src1_data (not null): where src1's values are read instead of
// src1->data, in src1's layout (the source of a CONT that only copies, see tq_cont_mul_mat_vec).
static void tq_mul_mat_vec_run(ggml_backend_cuda_context & ctx, const ggml_tensor * weights, const tq_mmv::mv_segments & segs,
                               const ggml_tensor * src1, tq_mmv::mv_options opt = {}, const tq_rms_norm & norm = {},
                               const void * src1_data = nullptr) {
    const int     nb        = (int) (weights->ne[0] / QK_K);
    const int64_t row_bytes = weights->nb[1];
    const int     ncols     = (int) src1->ne[1];
    cudaStream_t stream = ctx.stream();

    // int8 activations (ncols*K bytes, in the kernel's permuted order) and (d, d*sum) per block/column
    ggml_cuda_pool_alloc<int>    yq(ctx.pool(), (size_t) ncols*nb*QK_K/4);
    ggml_cuda_pool_alloc<float2> ym(ctx.pool(), (size_t) nb*tq_mmv::MAX_COLS);

    const ggml_tensor * y_src = norm.x ? norm.x : src1;
    const float * y  = (const float *) (norm.x ? norm.x->data : src1_data ? src1_data : src1->data);
    const int64_t sy = y_src->nb[1] / sizeof(float);
    opt.norm_w   = norm.x ? (const float *) norm.w->data : nullptr;
    opt.norm_eps = norm.eps;
    if (weights->type == GGML_TYPE_TQ2_0) {
        tq_mmv::mul_mat_vec_segments<tq_mmv::TQ2>(segs, y, yq.get(), ym.get(), nb, row_bytes, ncols, sy, stream, opt);
    } else {
        tq_mmv::mul_mat_vec_segments<tq_mmv::TQ1>(segs, y, yq.get(), ym.get(), nb, row_bytes, ncols, sy, stream, opt);
    }
    CUDA_CHECK(cudaGetLastError());
}

// add (not null): dst = weights x src1 + add (ggml's residual ADD fused into the mat-vec)
static void add_segment(tq_mmv::mv_segments & segs, const ggml_tensor * weights, ggml_tensor * dst,
                        const ggml_tensor * add = nullptr) {
    tq_mmv::add_segment(segs, (const char *) weights->data, (float *) dst->data, (int) weights->ne[1],
                        dst->nb[1] / sizeof(float), add ? (const float *) add->data : nullptr,
                        add ? add->nb[1] / sizeof(float) : 0);
}

bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst) {
    if (!ggml_cuda_tq_mmv_applies(src0, src1, dst)) {
        return false;
    }
    tq_mmv::mv_segments segs = {};
    add_segment(segs, src0, dst);
    tq_mul_mat_vec_run(ctx, src0, segs, src1);
    return true;
}

// The kernel's GLU for a gate/up pair of TQ mat-vecs (up_node = MUL_MAT of the up weights; gate: the gate
// weights), or -1 where the pair does not apply.
static int tq_glu_pair(const ggml_tensor * up_node, const ggml_tensor * gate, const ggml_tensor * glu_node) {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_GLU");
    const ggml_tensor * up   = up_node->src[0];
    const ggml_tensor * src1 = up_node->src[1];
    if (!enabled || up_node->op != GGML_OP_MUL_MAT || !ggml_cuda_tq_mmv_applies(up, src1, up_node) ||
            gate->type != up->type || !ggml_are_same_shape(gate, up) || !ggml_are_same_stride(gate, up) ||
            !tq_mmv::supported((int) (gate->ne[0] / QK_K), gate->nb[1], (uintptr_t) gate->data) ||
            ggml_get_op_params_i32(glu_node, 1) != 0 /* swapped */ || glu_node->type != GGML_TYPE_F32 ||
            !ggml_are_same_shape(glu_node, up_node) || glu_node->nb[0] != sizeof(float)) {
        return -1;
    }
    switch (ggml_get_glu_op(glu_node)) {
        case GGML_GLU_OP_SWIGLU: return tq_mmv::GLU_SWIGLU;
        case GGML_GLU_OP_GEGLU:  return tq_mmv::GLU_GEGLU;
        default:                 return -1;
    }
}

static void tq_glu_pair_run(ggml_backend_cuda_context & ctx, const ggml_tensor * up_node, const ggml_tensor * gate,
                            ggml_tensor * glu_node, const int glu, const tq_rms_norm & norm = {}) {
    // the kernel's matrix is the gate (its rows go through the activation), x_up the up projection
    const ggml_tensor * up = up_node->src[0];
    tq_mmv::mv_segments segs = {};
    add_segment(segs, gate, glu_node);
    tq_mmv::mv_options opt;
    opt.x_up = (const char *) up->data;
    opt.glu  = glu;
    tq_mul_mat_vec_run(ctx, up, segs, up_node->src[1], opt, norm);
}

bool ggml_cuda_tq_mul_mat_vec_glu(ggml_backend_cuda_context & ctx, const ggml_tensor * up_node, const ggml_tensor * gate,
                                  ggml_tensor * glu_node) {
    const int glu = tq_glu_pair(up_node, gate, glu_node);
    if (glu < 0) {
        return false;
    }
    tq_glu_pair_run(ctx, up_node, gate, glu_node, glu);
    return true;
}

// ---- graph-level fusions: mat-vecs of one input (Q/K/V), and the RMS norm that feeds them ----

static bool env_is(const char * name, const char * value) {
    const char * e = getenv(name);
    return e != nullptr && strcmp(e, value) == 0;
}

static bool ggml_fusion_disabled() {
    const char * e = getenv("GGML_CUDA_DISABLE_FUSION");
    return e != nullptr && atoi(e) != 0;
}

// Off with TQ_GGUF_CUDA_MMV_QKV=0 (A/B), with ggml's GGML_CUDA_DISABLE_FUSION, and with GGML_CUDA_GRAPH_OPT=1
// (that pass runs Q/K/V on concurrent streams: a launch over all three would cross them).
static bool shared_src1_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_QKV") && !env_is("GGML_CUDA_GRAPH_OPT", "1") && !ggml_fusion_disabled();
    return enabled;
}

// Off with TQ_GGUF_CUDA_MMV_NORM=0 (A/B) and with GGML_CUDA_DISABLE_FUSION.
static bool rms_norm_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_NORM") && !ggml_fusion_disabled();
    return enabled;
}

// Off with TQ_GGUF_CUDA_MMV_ROPE=0 (A/B) and with GGML_CUDA_DISABLE_FUSION.
static bool qkv_epilogue_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_ROPE") && !ggml_fusion_disabled();
    return enabled;
}

// Off with TQ_GGUF_CUDA_MMV_ADD=0 (A/B) and with GGML_CUDA_DISABLE_FUSION.
static bool residual_add_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_ADD") && !ggml_fusion_disabled();
    return enabled;
}

// Whether node b can share a launch with node a: both MUL_MAT of TQ weights (leaves) of one type, K and row
// layout on the same src1 of at most MAX_COLS columns.
static bool shares_src1(const ggml_tensor * a, const ggml_tensor * b) {
    if (b->op != GGML_OP_MUL_MAT || b->src[1] != a->src[1] || b->src[2] != nullptr) {
        return false;
    }
    const ggml_tensor * wa = a->src[0];
    const ggml_tensor * wb = b->src[0];
    return ggml_cuda_is_tq_type(wa->type) && wb->type == wa->type && wb->op == GGML_OP_NONE &&
           wa->op == GGML_OP_NONE && wb->ne[0] == wa->ne[0] && wb->nb[1] == wa->nb[1] &&
           a->src[1]->ne[1] <= tq_mmv::MAX_COLS;
}

static bool data_overlaps(const ggml_tensor * a, const ggml_tensor * b) {
    const char * a0 = (const char *) a->data;
    const char * b0 = (const char *) b->data;
    return a0 < b0 + ggml_nbytes(b) && b0 < a0 + ggml_nbytes(a);
}

// The mat-vecs of one input at nodes i.. (2 or 3, not a gate/up pair followed by its GLU, which the pair
// takes) as segments of one launch; returns how many (0: none).
static int tq_shared_src1_segments(const ggml_cgraph * cgraph, const int i, tq_mmv::mv_segments & segs) {
    const ggml_tensor * first = cgraph->nodes[i];
    if (first->op != GGML_OP_MUL_MAT) {
        return 0;
    }
    int n = 1;
    while (n < tq_mmv::MAX_SEGS && i + n < cgraph->n_nodes && shares_src1(first, cgraph->nodes[i + n])) {
        ++n;
    }
    if (n < 2 || (i + n < cgraph->n_nodes && cgraph->nodes[i + n]->op == GGML_OP_GLU)) {
        return 0;
    }
    const ggml_tensor * src1 = first->src[1];
    segs = {};
    for (int k = 0; k < n; ++k) {
        ggml_tensor * node = cgraph->nodes[i + k];
        if ((node->flags & GGML_TENSOR_FLAG_COMPUTE) == 0 || !ggml_cuda_tq_mmv_applies(node->src[0], src1, node)) {
            return 0;
        }
        // every output is written while src1 and the other outputs are still needed: no overlaps
        if (data_overlaps(node, src1)) {
            return 0;
        }
        for (int l = 0; l < k; ++l) {
            if (data_overlaps(node, cgraph->nodes[i + l])) {
                return 0;
            }
        }
        add_segment(segs, node->src[0], node);
    }
    return n;
}

// ---- Q/K/V epilogue: ggml's ROPE and KV-cache SET_ROWS behind the projections, in the launch ----
// In a Llama layer (after ggml_cuda_tq_graph_optimize has put Q, V, K side by side) the projections are
// followed by RESHAPE, ROPE(Q), RESHAPE, ROPE(K), VIEW, SET_ROWS(K cache), RESHAPE x3, SET_ROWS(V cache):
// two or three more kernels per layer (ggml-cuda fuses ROPE(K) + SET_ROWS), each a launch of a few
// microseconds at batch 1. The mat-vec's epilogue has every row of a 16-row tile, so it can rotate the
// pairs of a head and write the rows to the cache itself.

// The tensor that t views whole and contiguously (t itself when it is no view), or null.
static const ggml_tensor * whole_view_base(const ggml_tensor * t) {
    if (t->view_src == nullptr) {
        return t;
    }
    const ggml_tensor * b = t->view_src;
    return t->view_offs == 0 && ggml_is_contiguous(t) && ggml_is_contiguous(b) && ggml_nelements(t) == ggml_nelements(b) &&
           t->type == b->type ? b : nullptr;
}

// ROPE node (of a product of nrows x ncols) as the epilogue's mv_rope; false where it does not apply.
static bool tq_match_rope(const ggml_tensor * rope, const int nrows, const int ncols, tq_mmv::mv_rope & r) {
    const int32_t * op = (const int32_t *) rope->op_params;
    const int n_dims = op[1], mode = op[2], n_ctx_orig = op[4], n_offs = op[15];
    const ggml_tensor * a   = rope->src[0];
    const ggml_tensor * pos = rope->src[1];
    const ggml_tensor * ff  = rope->src[2];
    if (mode != GGML_ROPE_TYPE_NORMAL || rope->type != GGML_TYPE_F32 || a->type != GGML_TYPE_F32 ||
            !ggml_is_contiguous(rope) || !ggml_are_same_shape(rope, a) || a->ne[0] % 2 != 0 ||
            a->ne[0]*a->ne[1] != nrows || a->ne[2] != ncols || a->ne[3] != 1 || n_dims <= 0 || n_dims % 2 != 0 ||
            n_offs < 0 || n_offs % 2 != 0 || n_offs + n_dims > a->ne[0] || pos->type != GGML_TYPE_I32 ||
            !ggml_is_contiguous(pos) || pos->ne[0] != ncols ||
            (ff != nullptr && (ff->type != GGML_TYPE_F32 || !ggml_is_contiguous(ff) || ff->ne[0] < n_dims/2))) {
        return false;
    }
    float freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow, corr[2];
    memcpy(&freq_base,   op +  5, sizeof(float));
    memcpy(&freq_scale,  op +  6, sizeof(float));
    memcpy(&ext_factor,  op +  7, sizeof(float));
    memcpy(&attn_factor, op +  8, sizeof(float));
    memcpy(&beta_fast,   op +  9, sizeof(float));
    memcpy(&beta_slow,   op + 10, sizeof(float));
    ggml_rope_yarn_corr_dims(n_dims, n_ctx_orig, freq_base, beta_fast, beta_slow, corr);
    r = {(const int32_t *) pos->data, ff ? (const float *) ff->data : nullptr, (int) a->ne[0], n_dims, n_offs,
         powf(freq_base, -2.0f/n_dims), freq_scale, ext_factor, attn_factor, corr[0], corr[1]};
    return true;
}

// SET_ROWS node (its source a whole view of a product, or of its rope, of nrows x ncols) as the epilogue's
// mv_store; false where it does not apply.
static bool tq_match_set_rows(const ggml_tensor * set_rows, const int nrows, const int ncols, tq_mmv::mv_store & st) {
    const ggml_tensor * a   = set_rows->src[0];
    const ggml_tensor * idx = set_rows->src[1];
    if ((set_rows->type != GGML_TYPE_F16 && set_rows->type != GGML_TYPE_F32) || a->type != GGML_TYPE_F32 ||
            set_rows->nb[0] != ggml_type_size(set_rows->type) || set_rows->ne[0] != a->ne[0] ||
            idx->type != GGML_TYPE_I64 || !ggml_is_contiguous(idx) || idx->ne[1] != 1 || idx->ne[2] != 1 ||
            idx->ne[3] != 1 || a->ne[2] != 1 || a->ne[3] != 1 || idx->ne[0] != a->ne[1]) {
        return false;
    }
    const bool rows     = a->ne[0] == nrows && a->ne[1] == ncols;
    const bool elements = a->ne[0] == 1 && a->ne[1] == (int64_t) nrows*ncols;
    if (!rows && !elements) {
        return false;
    }
    st = {(char *) set_rows->data, (const int64_t *) idx->data, (int64_t) set_rows->nb[1], elements,
          set_rows->type == GGML_TYPE_F16};
    return true;
}

// Nodes [first, first + n) are the mat-vecs of one launch (segs); the nodes behind them that only rework
// their products (RESHAPE / VIEW: no work; ROPE of a product; SET_ROWS of a product or of its rope) are
// taken into the epilogue: epi gets their rope / store (segs the rope's output as dst), written[] the
// graph tensors the launch then writes (one per matrix: its MUL_MAT, ROPE or SET_ROWS node). Returns how
// many nodes after the mat-vecs are taken (0: none).
static int tq_match_qkv_epilogue(const ggml_cgraph * cgraph, const int first, const int n, tq_mmv::mv_segments & segs,
                                 tq_mmv::mv_epilogues & epi, const ggml_tensor * (&written)[tq_mmv::MAX_SEGS]) {
    const ggml_tensor * value[tq_mmv::MAX_SEGS]; // each matrix's result so far: its MUL_MAT, then its ROPE
    bool stored[tq_mmv::MAX_SEGS] = {};
    for (int k = 0; k < n; ++k) {
        value[k] = written[k] = cgraph->nodes[first + k];
    }
    const int ncols = (int) value[0]->ne[1];
    auto matrix_of = [&](const ggml_tensor * t) {
        const ggml_tensor * b = whole_view_base(t);
        for (int k = 0; k < n; ++k) {
            if (b != nullptr && b == value[k] && !stored[k]) {
                return k;
            }
        }
        return -1;
    };
    constexpr int MAX_NODES = 31 - 2 - tq_mmv::MAX_SEGS; // ggml_can_fuse_subgraph takes < 32 (norm + mat-vecs first)
    int taken = 0;
    for (int j = first + n; j < cgraph->n_nodes && j - (first + n) < MAX_NODES; ++j) {
        const ggml_tensor * node = cgraph->nodes[j];
        if (node->op == GGML_OP_RESHAPE || node->op == GGML_OP_VIEW) {
            continue;
        }
        const int k = node->op == GGML_OP_ROPE || node->op == GGML_OP_SET_ROWS ? matrix_of(node->src[0]) : -1;
        if (k < 0) {
            break;
        }
        tq_mmv::mv_segment & sg = segs.s[k];
        if (node->op == GGML_OP_ROPE) {
            if (value[k]->op != GGML_OP_MUL_MAT || !tq_match_rope(node, sg.nrows, ncols, epi.e[k].rope)) {
                break;
            }
            sg.dst        = (float *) node->data;
            sg.stride_dst = node->nb[2] / sizeof(float);
        } else {
            if (!tq_match_set_rows(node, sg.nrows, ncols, epi.e[k].store)) {
                break;
            }
            stored[k] = true;
        }
        value[k] = written[k] = node;
        taken = j + 1 - (first + n);
    }
    return taken;
}

// Runs the mat-vecs of one input at nodes [first, first + n) (segs; src1 their input), behind the RMS norm
// at nodes start, start + 1 where norm.x is set (start == first - 2, else start == first), with as much of
// the rope / KV-store work behind them as matches. Returns the nodes taken (0: none).
static int tq_shared_src1_run(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int start, const int first,
                              const int n, const tq_mmv::mv_segments & segs, const ggml_tensor * src1,
                              const tq_rms_norm & norm) {
    for (int pass = 0; pass < 2; ++pass) { // with the epilogue work, then without
        tq_mmv::mv_segments s = segs;
        tq_mmv::mv_epilogues epi = {};
        const ggml_tensor * written[tq_mmv::MAX_SEGS];
        for (int k = 0; k < n; ++k) {
            written[k] = cgraph->nodes[first + k];
        }
        const int extra = pass == 0 && qkv_epilogue_enabled() ? tq_match_qkv_epilogue(cgraph, first, n, s, epi, written) : 0;
        if (pass == 0 && extra == 0) {
            continue;
        }
        // outputs: what the launch writes, and views of tensors that it does not skip (ggml_can_fuse_subgraph
        // requires every other node to be read only inside the run)
        const int count = first - start + n + extra;
        ggml_op ops[32];
        int outputs[32];
        int n_outputs = 0;
        for (int j = start; j < start + count; ++j) {
            const ggml_tensor * node = cgraph->nodes[j];
            ops[j - start] = node->op;
            bool out = false;
            for (int k = 0; k < n; ++k) {
                out = out || node == written[k];
            }
            if (node->view_src != nullptr && node->op != GGML_OP_SET_ROWS) {
                const ggml_tensor * b = node->view_src;
                bool skipped = b->op == GGML_OP_RMS_NORM || b->op == GGML_OP_MUL || b->op == GGML_OP_MUL_MAT || b->op == GGML_OP_ROPE;
                for (int k = 0; k < n; ++k) {
                    skipped = skipped && b != written[k];
                }
                out = !skipped;
            }
            if (out) {
                outputs[n_outputs++] = j;
            }
        }
        if (!ggml_can_fuse_subgraph(cgraph, start, count, ops, outputs, n_outputs)) {
            continue;
        }
        // the graph tensors written must not overlap each other (the cache stores go to other buffers)
        bool overlap = false;
        for (int k = 0; k < n; ++k) {
            for (int l = 0; l < k; ++l) {
                overlap = overlap || (epi.e[k].store.base == nullptr && epi.e[l].store.base == nullptr &&
                                      data_overlaps(written[k], written[l]));
            }
        }
        if (overlap) {
            continue;
        }
        tq_mmv::mv_options opt;
        opt.epi = extra > 0 ? &epi : nullptr;
        tq_mul_mat_vec_run(ctx, cgraph->nodes[first]->src[0], s, src1, opt, norm);
        static bool logged = false;
        if (extra > 0 && tq_mmv::log_first_time(logged)) {
            fprintf(stderr, "tq_gguf: Q/K/V launch takes %d nodes behind the projections (rope: %d %d %d, store: %d %d %d)\n",
                    extra, epi.e[0].rope.pos != nullptr, epi.e[1].rope.pos != nullptr, epi.e[2].rope.pos != nullptr,
                    epi.e[0].store.base != nullptr, epi.e[1].store.base != nullptr, epi.e[2].store.base != nullptr);
        }
        return count;
    }
    return 0;
}

// Node i + 1 as the residual ADD of the mat-vec at node i: ADD(mm, r) or ADD(r, mm) with r of the product's
// shape, nothing else reading the product. Returns r (the ADD node is nodes[i + 1]), or null.
// The sum may be written over r (ggml-alloc's in-place ADD): the kernel reads each r element once, in the
// thread that then writes it. It may also land where src1 was: src1 is only read by the quantizer, which
// finishes before the mat-vec writes (stream order, or the mat-vec's PDL wait).
static const ggml_tensor * tq_match_residual_add(const ggml_cgraph * cgraph, const int i) {
    if (!residual_add_enabled() || !ggml_can_fuse(cgraph, i, {GGML_OP_MUL_MAT, GGML_OP_ADD})) {
        return nullptr;
    }
    const ggml_tensor * mm  = cgraph->nodes[i];
    const ggml_tensor * add = cgraph->nodes[i + 1];
    const ggml_tensor * r   = add->src[0] == mm ? add->src[1] : add->src[0];
    if (r == mm || r->type != GGML_TYPE_F32 || add->type != GGML_TYPE_F32 || mm->type != GGML_TYPE_F32 ||
            !ggml_are_same_shape(r, mm) || r->nb[0] != sizeof(float) || add->nb[0] != sizeof(float) ||
            r->nb[1] % sizeof(float) != 0 || add->nb[1] % sizeof(float) != 0 ||
            (data_overlaps(add, r) && (add->data != r->data || add->nb[1] != r->nb[1]))) {
        return nullptr;
    }
    return r;
}

// MUL_MAT + residual ADD at node i: one mat-vec writing the sum. Returns the nodes run (0: none).
static int tq_mul_mat_vec_add(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int i) {
    ggml_tensor * mm = cgraph->nodes[i];
    const ggml_tensor * r = tq_match_residual_add(cgraph, i);
    if (r == nullptr || !ggml_cuda_tq_mmv_applies(mm->src[0], mm->src[1], mm)) {
        return 0;
    }
    tq_mmv::mv_segments segs = {};
    add_segment(segs, mm->src[0], cgraph->nodes[i + 1], r);
    tq_mul_mat_vec_run(ctx, mm->src[0], segs, mm->src[1]);
    return 2;
}

// Off with TQ_GGUF_CUDA_MMV_CONT=0 (A/B) and with GGML_CUDA_DISABLE_FUSION.
static bool cont_input_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMV_CONT") && !ggml_fusion_disabled();
    return enabled;
}

// CONT at node i that only copies (source and result F32, both contiguous: at batch 1 the attention output's
// permute without flash attention, which ggml-cuda runs as a device-to-device copy, a graph node that PDL
// cannot overlap), read by nothing but the TQ mat-vec at node i + 1 (with its residual ADD at i + 2 where that
// matches): the mat-vec reads the CONT's source instead. Returns the nodes run (0: none).
static int tq_cont_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int i) {
    if (!cont_input_enabled() || i + 1 >= cgraph->n_nodes) {
        return 0;
    }
    const ggml_tensor * cont = cgraph->nodes[i];
    const ggml_tensor * src  = cont->src[0];
    ggml_tensor * mm = cgraph->nodes[i + 1];
    if (mm->op != GGML_OP_MUL_MAT || mm->src[1] != cont || cont->type != GGML_TYPE_F32 || src->type != GGML_TYPE_F32 ||
            !ggml_is_contiguous(cont) || !ggml_is_contiguous(src) || ggml_nelements(src) != ggml_nelements(cont) ||
            (uintptr_t) src->data % 16 != 0 || !ggml_cuda_tq_mmv_applies(mm->src[0], cont, mm)) {
        return 0;
    }
    const ggml_tensor * r = tq_match_residual_add(cgraph, i + 1);
    const int count = r != nullptr ? 3 : 2;
    const ggml_op ops[3] = {GGML_OP_CONT, GGML_OP_MUL_MAT, GGML_OP_ADD};
    const int outputs[1] = {i + count - 1};
    if (!ggml_can_fuse_subgraph(cgraph, i, count, ops, outputs, 1)) {
        return 0;
    }
    tq_mmv::mv_segments segs = {};
    add_segment(segs, mm->src[0], cgraph->nodes[i + count - 1], r);
    tq_mul_mat_vec_run(ctx, mm->src[0], segs, cont, {}, {}, src->data);
    static bool logged = false;
    if (tq_mmv::log_first_time(logged)) {
        fprintf(stderr, "tq_gguf: a mat-vec reads its CONT's source (%d nodes in one launch)\n", count);
    }
    return count;
}

// nodes i, i+1 = RMS_NORM(x), MUL(that, w) with w one row of K floats (either operand order), x rows of K
// floats, 16-byte aligned (the fused quantizer's float4 loads).
static bool tq_match_rms_norm(const ggml_cgraph * cgraph, const int i, tq_rms_norm & norm) {
    if (i + 2 >= cgraph->n_nodes) {
        return false;
    }
    const ggml_tensor * rms = cgraph->nodes[i];
    const ggml_tensor * mul = cgraph->nodes[i + 1];
    if (rms->op != GGML_OP_RMS_NORM || mul->op != GGML_OP_MUL) {
        return false;
    }
    const ggml_tensor * w = mul->src[0] == rms ? mul->src[1] : mul->src[1] == rms ? mul->src[0] : nullptr;
    const ggml_tensor * x = rms->src[0];
    if (w == nullptr || x->type != GGML_TYPE_F32 || w->type != GGML_TYPE_F32 || rms->type != GGML_TYPE_F32 ||
            mul->type != GGML_TYPE_F32 || !ggml_are_same_shape(mul, rms) || !ggml_are_same_shape(rms, x) ||
            x->ne[2] != 1 || x->ne[3] != 1 || x->nb[0] != sizeof(float) || x->nb[1] % 16 != 0 ||
            (uintptr_t) x->data % 16 != 0 || x->ne[0] % QK_K != 0 || !ggml_is_contiguous(w) ||
            w->ne[0] != x->ne[0] || ggml_nelements(w) != x->ne[0] || (uintptr_t) w->data % 16 != 0) {
        return false;
    }
    norm.x   = x;
    norm.w   = w;
    norm.eps = ggml_get_op_params_f32(rms, 0);
    return true;
}

// RMS_NORM, MUL (norm weight), then the mat-vecs it feeds: Q/K/V (2-3 MUL_MAT) or gate/up + GLU. Returns the
// nodes run (0: none).
static int tq_rms_norm_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int i) {
    tq_rms_norm norm;
    if (!rms_norm_enabled() || !tq_match_rms_norm(cgraph, i, norm)) {
        return 0;
    }
    const ggml_tensor * mul = cgraph->nodes[i + 1];
    tq_mmv::mv_segments segs;
    const int n = shared_src1_enabled() && cgraph->nodes[i + 2]->src[1] == mul ? tq_shared_src1_segments(cgraph, i + 2, segs) : 0;
    if (n > 0) {
        return tq_shared_src1_run(ctx, cgraph, i, i + 2, n, segs, mul, norm);
    }
    // gate/up + GLU: nodes i+2, i+3 are the two MUL_MAT (either order), i+4 the GLU of both
    if (i + 4 >= cgraph->n_nodes || cgraph->nodes[i + 4]->op != GGML_OP_GLU) {
        return 0;
    }
    ggml_tensor * glu_node = cgraph->nodes[i + 4];
    const ggml_tensor * gate_node = glu_node->src[0];
    const ggml_tensor * up_node   = glu_node->src[1];
    const bool ordered = (gate_node == cgraph->nodes[i + 2] && up_node == cgraph->nodes[i + 3]) ||
                         (gate_node == cgraph->nodes[i + 3] && up_node == cgraph->nodes[i + 2]);
    if (!ordered || gate_node->op != GGML_OP_MUL_MAT || gate_node->src[1] != mul || up_node->src[1] != mul ||
            gate_node->src[2] != nullptr || up_node->src[2] != nullptr) {
        return 0;
    }
    const int glu = tq_glu_pair(up_node, gate_node->src[0], glu_node);
    const ggml_op ops[5] = {GGML_OP_RMS_NORM, GGML_OP_MUL, GGML_OP_MUL_MAT, GGML_OP_MUL_MAT, GGML_OP_GLU};
    const int outputs[1] = {i + 4};
    if (glu < 0 || !ggml_can_fuse_subgraph(cgraph, i, 5, ops, outputs, 1)) {
        return 0;
    }
    tq_glu_pair_run(ctx, up_node, gate_node->src[0], glu_node, glu, norm);
    return 5;
}

int ggml_cuda_tq_try_fuse(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int i) {
    const ggml_tensor * node = cgraph->nodes[i];
    if (node->op == GGML_OP_RMS_NORM) {
        return tq_rms_norm_mul_mat_vec(ctx, cgraph, i);
    }
    if (node->op == GGML_OP_CONT) {
        return tq_cont_mul_mat_vec(ctx, cgraph, i);
    }
    if (node->op != GGML_OP_MUL_MAT) {
        return 0;
    }
    if (const int n_attn = ggml_cuda_tq_attn_try_fuse(ctx, cgraph, i)) {
        return n_attn;
    }
    tq_mmv::mv_segments segs;
    const int n = shared_src1_enabled() ? tq_shared_src1_segments(cgraph, i, segs) : 0;
    if (n > 0) {
        return tq_shared_src1_run(ctx, cgraph, i, i, n, segs, node->src[1], {});
    }
    return tq_mul_mat_vec_add(ctx, cgraph, i);
}

static bool consumed_by_glu(const ggml_cgraph * cgraph, const int from, const int to, const ggml_tensor * t) {
    for (int k = from; k < to && k < cgraph->n_nodes; ++k) {
        const ggml_tensor * n = cgraph->nodes[k];
        if (n->op == GGML_OP_GLU && (n->src[0] == t || n->src[1] == t)) {
            return true;
        }
    }
    return false;
}

void ggml_cuda_tq_graph_optimize(ggml_cgraph * cgraph) {
    if (!shared_src1_enabled()) {
        return;
    }
    constexpr int WINDOW = 64; // how far after the first projection its siblings may be
    for (int i = 0; i < cgraph->n_nodes; ++i) {
        ggml_tensor * first = cgraph->nodes[i];
        if (first->op != GGML_OP_MUL_MAT || first->src[2] != nullptr || first->src[0]->op != GGML_OP_NONE ||
                !ggml_cuda_is_tq_type(first->src[0]->type) || first->src[1]->ne[1] > tq_mmv::MAX_COLS) {
            continue;
        }
        int members[tq_mmv::MAX_SEGS] = {i};
        int n = 1;
        const ggml_tensor * src1 = first->src[1];
        const ggml_tensor * src1_base = src1->view_src ? src1->view_src : src1;
        for (int j = i + 1; j < cgraph->n_nodes && j <= i + WINDOW; ++j) {
            const ggml_tensor * node = cgraph->nodes[j];
            const ggml_tensor * base = node->view_src ? node->view_src : node;
            if (base == src1_base) {
                break; // src1 (or a view of it) is written in between: keep the order
            }
            if (shares_src1(first, node)) {
                if (n == tq_mmv::MAX_SEGS) {
                    n = 0; // more siblings than one launch takes: leave them alone
                    break;
                }
                members[n++] = j;
            }
        }
        // only Q/K/V-like triples: a gate/up pair (2, consumed by a GLU) keeps its own fusion
        if (n != tq_mmv::MAX_SEGS) {
            continue;
        }
        bool glu = false;
        for (int k = 0; k < n; ++k) {
            glu = glu || consumed_by_glu(cgraph, i + 1, i + WINDOW + 1, cgraph->nodes[members[k]]);
        }
        if (glu) {
            continue;
        }
        // Move the siblings right after the first: they read only weights and src1, which is computed
        // before node i, and nothing in between reads them. This runs before ggml-alloc places the
        // tensors, so the allocation follows the new order.
        ggml_tensor * moved[tq_mmv::MAX_SEGS];
        for (int k = 1; k < n; ++k) {
            moved[k] = cgraph->nodes[members[k]];
        }
        int dst = members[n - 1];
        for (int src = members[n - 1], k = n - 1; src > i; --src) {
            if (k >= 1 && src == members[k]) {
                --k;
                continue;
            }
            cgraph->nodes[dst--] = cgraph->nodes[src];
        }
        for (int k = 1; k < n; ++k) {
            cgraph->nodes[i + k] = moved[k];
        }
        i += n - 1;
    }
}
