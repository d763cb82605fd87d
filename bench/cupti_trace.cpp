// GPU activity trace for machines without Nsight Systems: a CUPTI injection library.
//
//   g++ -shared -fPIC -O2 bench/cupti_trace.cpp -I$CUDA/include -L$CUDA/lib64 -lcupti -o /tmp/libtq_trace.so
//   CUDA_INJECTION64_PATH=/tmp/libtq_trace.so TQ_TRACE_OUT=trace.csv llama-bench ...
//
// The CUDA driver loads the library when the program first initializes CUDA and calls InitializeInjection.
// Every kernel (kernels of CUDA graph replays included) and every device-to-host copy is recorded with its
// GPU start and end (ns), and written at exit as CSV in the columns of `nsys stats -r cuda_gpu_trace`
// that bench/gpu_timeline.py reads: "Start (ns)", "Duration (ns)", "Name" (demangled kernel names;
// copies "[CUDA memcpy Device-to-Host]" and the like).
#include <cupti.h>
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct record {
    uint64_t    start, end;
    std::string name;
};

std::mutex          records_mutex;
std::vector<record> records;

std::string demangle(const char * name) {
    int status = 0;
    char * d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string s = status == 0 && d != nullptr ? d : name;
    free(d);
    return s;
}

const char * copy_name(const uint8_t kind) {
    switch (kind) {
        case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "[CUDA memcpy Host-to-Device]";
        case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "[CUDA memcpy Device-to-Host]";
        case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "[CUDA memcpy Device-to-Device]";
        default:                              return "[CUDA memcpy other]";
    }
}

void CUPTIAPI buffer_requested(uint8_t ** buffer, size_t * size, size_t * max_records) {
    *size        = 16u << 20;
    *buffer      = (uint8_t *) aligned_alloc(8, *size);
    *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t * buffer, size_t, size_t valid) {
    std::vector<record> batch;
    CUpti_Activity * a = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &a) == CUPTI_SUCCESS) {
        if (a->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || a->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
            const auto * k = (const CUpti_ActivityKernel10 *) a;
            batch.push_back({k->start, k->end, demangle(k->name)});
        } else if (a->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
            const auto * m = (const CUpti_ActivityMemcpy6 *) a;
            batch.push_back({m->start, m->end, copy_name(m->copyKind)});
        }
    }
    free(buffer);
    std::lock_guard<std::mutex> lock(records_mutex);
    records.insert(records.end(), batch.begin(), batch.end());
}

std::string csv_quoted(const std::string & s) {
    std::string q = "\"";
    for (const char c : s) {
        q += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return q + "\"";
}

void write_trace() {
    cuptiActivityFlushAll(1);
    const char * path = getenv("TQ_TRACE_OUT");
    FILE * f = fopen(path != nullptr ? path : "tq_trace.csv", "w");
    if (f == nullptr) {
        perror("cupti_trace: TQ_TRACE_OUT");
        return;
    }
    fprintf(f, "Start (ns),Duration (ns),Name\n");
    std::lock_guard<std::mutex> lock(records_mutex);
    for (const record & r : records) {
        fprintf(f, "%llu,%llu,%s\n", (unsigned long long) r.start, (unsigned long long) (r.end - r.start),
                csv_quoted(r.name).c_str());
    }
    fclose(f);
    fprintf(stderr, "cupti_trace: %zu records -> %s\n", records.size(), path != nullptr ? path : "tq_trace.csv");
}

bool check(const CUptiResult r, const char * what) {
    if (r != CUPTI_SUCCESS) {
        const char * msg = nullptr;
        cuptiGetResultString(r, &msg);
        fprintf(stderr, "cupti_trace: %s: %s\n", what, msg != nullptr ? msg : "?");
        return false;
    }
    return true;
}

} // namespace

extern "C" int InitializeInjection(void) {
    if (!check(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "register callbacks") ||
        !check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enable kernels") ||
        !check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "enable copies")) {
        return 0;
    }
    atexit(write_trace);
    return 1;
}
