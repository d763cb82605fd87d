// tq_gguf: ggml-cuda entry of the decode attention without flash attention (tq-attn-kernel.cuh).
#include "tq-attn.cuh"
#include "tq-attn-kernel.cuh"

#include <cstdio>

static bool tq_attn_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_ATTN");
    return enabled;
}

static bool aligned16(const ggml_tensor * t) {
    return (uintptr_t) t->data % 16 == 0 && t->nb[1] % 16 == 0 && t->nb[2] % 16 == 0 && t->nb[3] % 16 == 0;
}

int ggml_cuda_tq_attn_try_fuse(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, const int i) {
    if (!tq_attn_enabled() || i + 2 >= cgraph->n_nodes) {
        return 0;
    }
    const ggml_tensor * kq  = cgraph->nodes[i];
    const ggml_tensor * sm  = cgraph->nodes[i + 1];
    ggml_tensor       * kqv = cgraph->nodes[i + 2];
    if (kq->op != GGML_OP_MUL_MAT || sm->op != GGML_OP_SOFT_MAX || kqv->op != GGML_OP_MUL_MAT ||
            sm->src[0] != kq || kqv->src[1] != sm || sm->src[2] != nullptr) {
        return 0;
    }
    const ggml_tensor * k = kq->src[0], * q = kq->src[1], * v = kqv->src[0], * mask = sm->src[1];
    const float scale = ggml_get_op_params_f32(sm, 0), max_bias = ggml_get_op_params_f32(sm, 1);
    const int64_t hd = k->ne[0], n_kv = k->ne[1], n_tokens = q->ne[1], n_head = q->ne[2], n_stream = q->ne[3];
    if (k->type != GGML_TYPE_F16 || v->type != GGML_TYPE_F16 || q->type != GGML_TYPE_F32 || kq->type != GGML_TYPE_F32 ||
            sm->type != GGML_TYPE_F32 || kqv->type != GGML_TYPE_F32 || max_bias != 0.0f ||
            (mask != nullptr && mask->type != GGML_TYPE_F16 && mask->type != GGML_TYPE_F32)) {
        return 0;
    }
    // shapes: q (hd, tokens, heads, streams), k (hd, n_kv, kv heads, kv streams), v (n_kv, hd, kv heads, kv
    // streams), kqv (hd, tokens, heads, streams); ggml's broadcast of K/V heads and streams
    if ((hd != 64 && hd != 128) || q->ne[0] != hd || v->ne[0] != n_kv || v->ne[1] != hd ||
            v->ne[2] != k->ne[2] || v->ne[3] != k->ne[3] || n_head % k->ne[2] != 0 || n_stream % k->ne[3] != 0 ||
            n_kv % 8 != 0 || n_kv < 8 || n_kv > tq_attn::MAX_KV || n_tokens < 1 || n_tokens > tq_attn::MAX_TOKENS ||
            kqv->ne[0] != hd || kqv->ne[1] != n_tokens || kqv->ne[2] != n_head || kqv->ne[3] != n_stream) {
        return 0;
    }
    // element strides: unit along a row of each operand; 16-byte rows of Q, K and V (their loads)
    if (q->nb[0] != sizeof(float) || kqv->nb[0] != sizeof(float) || k->nb[0] != sizeof(half) || v->nb[0] != sizeof(half) ||
            !aligned16(q) || !aligned16(k) || !aligned16(v) || kqv->nb[1] % sizeof(float) != 0 || kqv->nb[2] % sizeof(float) != 0 ||
            kqv->nb[3] % sizeof(float) != 0) {
        return 0;
    }
    if (mask != nullptr && (mask->ne[0] < n_kv || mask->ne[1] < n_tokens || mask->nb[0] != ggml_type_size(mask->type) ||
            n_head % mask->ne[2] != 0 || n_stream % mask->ne[3] != 0)) {
        return 0;
    }
    const ggml_op ops[3] = {GGML_OP_MUL_MAT, GGML_OP_SOFT_MAX, GGML_OP_MUL_MAT};
    const int outputs[1] = {i + 2};
    if (!ggml_can_fuse_subgraph(cgraph, i, 3, ops, outputs, 1)) {
        return 0;
    }

    tq_attn::params p = {};
    p.q = (const float *) q->data;
    p.k = (const half *) k->data;
    p.v = (const half *) v->data;
    p.dst = (float *) kqv->data;
    p.q_nb1 = q->nb[1] / sizeof(float);   p.q_nb2 = q->nb[2] / sizeof(float);   p.q_nb3 = q->nb[3] / sizeof(float);
    p.k_nb1 = k->nb[1] / sizeof(half);    p.k_nb2 = k->nb[2] / sizeof(half);    p.k_nb3 = k->nb[3] / sizeof(half);
    p.v_nb1 = v->nb[1] / sizeof(half);    p.v_nb2 = v->nb[2] / sizeof(half);    p.v_nb3 = v->nb[3] / sizeof(half);
    p.d_nb1 = kqv->nb[1] / sizeof(float); p.d_nb2 = kqv->nb[2] / sizeof(float); p.d_nb3 = kqv->nb[3] / sizeof(float);
    p.m_ne2 = p.m_ne3 = 1;
    if (mask != nullptr) {
        const size_t es = ggml_type_size(mask->type);
        p.mask = mask->data;
        p.mask_f16 = mask->type == GGML_TYPE_F16;
        p.m_nb1 = mask->nb[1] / es; p.m_nb2 = mask->nb[2] / es; p.m_nb3 = mask->nb[3] / es;
        p.m_ne2 = (int) mask->ne[2]; p.m_ne3 = (int) mask->ne[3];
    }
    p.n_kv = (int) n_kv;
    p.head_ratio = (int) (n_head / k->ne[2]);
    p.stream_ratio = (int) (n_stream / k->ne[3]);
    p.scale = scale;
    const int ctas = tq_attn::attn_vec(p, (int) hd, (int) n_head, (int) n_tokens, (int) n_stream, ctx.stream());

    static bool logged = false;
    if (tq_mmv::log_first_time(logged)) {
        fprintf(stderr, "tq_gguf: KQ, softmax and KQV in one launch (%lld heads, %lld tokens, n_kv %lld, %d CTAs per head)\n",
                (long long) n_head, (long long) n_tokens, (long long) n_kv, ctas);
    }
    return 3;
}
