// A STREAM-like probe of the machine's memory read bandwidth, the bound that decoding is judged by.
#pragma once
#include <cstdint>

namespace kvpress {

class ThreadPool;

// Reads a buffer of `bytes` (far beyond the caches) with every thread of the pool, several times, and
// returns the best rate in bytes per second. Takes about a second for the default 256 MiB.
double measure_read_bandwidth(ThreadPool& pool, int64_t bytes = int64_t{256} << 20);

}  // namespace kvpress
