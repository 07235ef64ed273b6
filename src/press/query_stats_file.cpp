// Reading and writing the query statistics file (layout in query_stats_file.h), checked field by field.
#include "press/query_stats_file.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace kvpress {
namespace {

static_assert(std::endian::native == std::endian::little, "query stats files are little-endian");
constexpr char kMagic[8] = {'K', 'V', 'P', 'Q', 'S', 'T', 'A', 'T'};
constexpr uint32_t kVersion = 1;
constexpr int64_t kMaxDim = 1 << 16;

class Reader {
 public:
  Reader(const std::string& path, std::string bytes) : path_(path), bytes_(std::move(bytes)) {}
  template <class T>
  T value(const char* what) {
    T v;
    need(sizeof v, what);
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  void floats(std::vector<float>& out, int64_t n, const char* what) {
    need((size_t)n * sizeof(float), what);
    out.resize((size_t)n);
    std::memcpy(out.data(), bytes_.data() + pos_, (size_t)n * sizeof(float));
    pos_ += (size_t)n * sizeof(float);
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(out[i])) fail(path_, ": query stats file: ", what, " value ", i, " is not finite");
  }
  std::string text(const char* what) {
    const uint32_t n = value<uint32_t>(what);
    need(n, what);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  void need(size_t n, const char* what) const {
    if (bytes_.size() - pos_ < n)
      fail(path_, ": query stats file ends inside its ", what, " (", bytes_.size(), " bytes; truncated?)");
  }
  std::string path_, bytes_;
  size_t pos_ = 0;
};

}  // namespace

void write_query_stats_file(const std::string& path, const QueryStatsFile& s) {
  const int64_t n_mean = s.n_layers * s.n_heads * s.head_dim;
  if ((int64_t)s.mean.size() != n_mean || (int64_t)s.cov.size() != n_mean * s.head_dim)
    fail("query stats for ", path, ": mean/cov sizes do not match ", s.n_layers, " x ", s.n_heads, " x ", s.head_dim);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, ": cannot open for writing");
  auto put = [&](const auto& v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
  out.write(kMagic, sizeof kMagic);
  put(kVersion);
  for (int64_t v : {s.n_layers, s.n_heads, s.head_dim, s.n_sink, s.n_samples, s.max_chars}) put((uint32_t)v);
  put((uint64_t)s.n_queries);
  put((uint32_t)s.model_name.size());
  out.write(s.model_name.data(), (std::streamsize)s.model_name.size());
  out.write(reinterpret_cast<const char*>(s.mean.data()), (std::streamsize)(s.mean.size() * sizeof(float)));
  out.write(reinterpret_cast<const char*>(s.cov.data()), (std::streamsize)(s.cov.size() * sizeof(float)));
  out.close();
  if (!out) fail(path, ": write failed");
}

QueryStatsFile read_query_stats_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the query stats file");
  Reader r(path, std::string(std::istreambuf_iterator<char>(in), {}));
  char magic[8];
  for (char& c : magic) c = r.value<char>("magic");
  if (std::memcmp(magic, kMagic, sizeof magic) != 0)
    fail(path, ": not a query stats file (expected the magic KVPQSTAT; write one with `kvpress query-stats`)");
  const uint32_t version = r.value<uint32_t>("version");
  if (version != kVersion) fail(path, ": query stats file version ", version, ", this build reads version ", kVersion);
  QueryStatsFile s;
  s.n_layers = r.value<uint32_t>("n_layers");
  s.n_heads = r.value<uint32_t>("n_heads");
  s.head_dim = r.value<uint32_t>("head_dim");
  s.n_sink = r.value<uint32_t>("n_sink");
  s.n_samples = r.value<uint32_t>("n_samples");
  s.max_chars = r.value<uint32_t>("max_chars");
  s.n_queries = (int64_t)r.value<uint64_t>("n_queries");
  for (int64_t v : {s.n_layers, s.n_heads, s.head_dim})
    if (v <= 0 || v > kMaxDim) fail(path, ": query stats file: a size of ", v, " (layers, heads, head_dim must be 1..", kMaxDim, ")");
  s.model_name = r.text("model name");
  const int64_t n_mean = s.n_layers * s.n_heads * s.head_dim, n_cov = n_mean * s.head_dim;
  const uint64_t expected = (uint64_t)(n_mean + n_cov) * sizeof(float);
  if (r.remaining() != expected)
    fail(path, ": query stats file holds ", r.remaining(), " bytes of statistics, expected ", expected, " for ",
         s.n_layers, " layers x ", s.n_heads, " heads x head_dim ", s.head_dim);
  r.floats(s.mean, n_mean, "mean");
  r.floats(s.cov, n_cov, "covariance");
  return s;
}

}  // namespace kvpress
