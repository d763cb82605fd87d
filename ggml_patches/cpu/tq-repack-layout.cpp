// TQ1_0 / TQ2_0 rows -> the 16-row interleaved layout of tq-gemm.h (portable; load time), and Q8_K
// rows -> activation panels (portable; the reference for the vectorised panel quantizer).
#include "tq-gemm.h"

#include <string.h>

static const int TQ_TYPE_TQ2_0 = 35;  // GGML_TYPE_TQ2_0 (34 is GGML_TYPE_TQ1_0)

// codes (trit + 1) of one TQ2_0 block: element n at byte 32*(n/128) + n%32, shift 2*((n%128)/32)
static void tq2_0_codes(const block_tq2_0 * b, uint8_t * c) {
    for (int n = 0; n < QK_K; ++n) {
        c[n] = (b->qs[32*(n/128) + n%32] >> (2*((n%128)/32))) & 3;
    }
}

// codes of one TQ1_0 block: trit l of byte q is ((q*3^l mod 256) * 3) >> 8
static void tq1_0_codes(const block_tq1_0 * b, uint8_t * c) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (int l = 0; l < 5; ++l) {
        for (int m = 0; m < 32; ++m) {
            const uint8_t q = (uint8_t) (b->qs[m] * pow3[l]);
            c[32*l + m] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
        for (int m = 0; m < 16; ++m) {
            const uint8_t q = (uint8_t) (b->qs[32 + m] * pow3[l]);
            c[160 + 16*l + m] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
    }
    for (int l = 0; l < 4; ++l) {
        for (int j = 0; j < 4; ++j) {
            const uint8_t q = (uint8_t) (b->qh[j] * pow3[l]);
            c[240 + 4*l + j] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
    }
}

// rows of standard TQ data (nrows % 16 == 0, k % 256 == 0) -> block_tqx16 groups
void tq_repack_rows(int type, const void * src, int64_t nrows, int64_t k, void * dst) {
    const int64_t nb = k / QK_K;
    const size_t row_size = (size_t) nb * (type == TQ_TYPE_TQ2_0 ? sizeof(block_tq2_0) : sizeof(block_tq1_0));
    block_tqx16 * out = (block_tqx16 *) dst;
    uint8_t codes[QK_K];
    for (int64_t g = 0; g < nrows / TQ_ROWS; ++g) {
        for (int64_t i = 0; i < nb; ++i) {
            block_tqx16 & o = out[g*nb + i];
            memset(o.qs, 0, sizeof(o.qs));
            for (int r = 0; r < TQ_ROWS; ++r) {
                const char * row = (const char *) src + (g*TQ_ROWS + r)*row_size;
                if (type == TQ_TYPE_TQ2_0) {
                    const block_tq2_0 * b = (const block_tq2_0 *) row + i;
                    o.d[r] = b->d;
                    tq2_0_codes(b, codes);
                } else {
                    const block_tq1_0 * b = (const block_tq1_0 *) row + i;
                    o.d[r] = b->d;
                    tq1_0_codes(b, codes);
                }
                for (int n = 0; n < QK_K; ++n) {
                    const int p = n / 16, s = (n / 4) % 4, e = n % 4;
                    o.qs[64*p + 4*r + e] |= (uint8_t) (codes[n] << (2*s));
                }
            }
        }
    }
}

// ------------------------------------------------------------------- activation panels

size_t tq_panels_size(int64_t nb, int64_t ncols, int64_t width) {
    return (size_t) nb * ((size_t) (ncols / width) * tq_panel_block_size(width) + tq_panel_block_size(ncols % width));
}

size_t tq_panel_offset(int64_t nb, int64_t ncols, int64_t width, int64_t j, int64_t * panel_width) {
    const int64_t panel = j / width;
    *panel_width = (panel + 1) * width <= ncols ? width : ncols - panel * width;
    return (size_t) (panel * nb) * tq_panel_block_size(width);
}

void tq_pack_q8K_column(const block_q8_K * row, int64_t nb, void * panel, int64_t nc, int64_t c) {
    for (int64_t i = 0; i < nb; ++i) {
        char * blk = (char *) panel + (size_t) i * tq_panel_block_size(nc);
        float   * d   = (float *) blk;
        int32_t * neg_sum = (int32_t *) (blk + nc*sizeof(float));
        int8_t  * qs  = (int8_t *) (blk + nc*(sizeof(float) + sizeof(int32_t)));
        int32_t s = 0;
        for (int g = 0; g < QK_K/16; ++g) {
            s -= row[i].bsums[g];
        }
        memcpy(d + c, &row[i].d, sizeof(float));
        memcpy(neg_sum + c, &s, sizeof(s));
        for (int p = 0; p < QK_K/16; ++p) {
            memcpy(qs + (p*nc + c)*16, row[i].qs + 16*p, 16);
        }
    }
}
