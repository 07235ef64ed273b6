// kvpress_cpp._core: pybind11 bindings of the public C++ API (include/kvpress/). The Python layer
// (kvpress_cpp/*.py) builds kvpress's classes on top. Compute releases the GIL.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>

#include "kvpress/kvpress.h"

namespace py = pybind11;
using namespace kvpress;

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

KvTypes kv_types_of(const std::string& k, const std::string& v) { return {parse_kv_type(k), parse_kv_type(v)}; }

py::dict stats_dict(const PrefillStats& s) {
  py::dict d;
  d["context_tokens"] = s.context_tokens;
  d["kv_bytes_full"] = s.kv_bytes_full;
  d["kv_bytes"] = s.kv_bytes;
  d["prefill_ms"] = s.prefill_ms;
  d["compression_ms"] = s.compression_ms;
  return d;
}

py::dict info_dict(const ModelInfo& i) {
  py::dict d;
  d["path"] = i.path, d["arch"] = i.arch, d["name"] = i.name, d["n_vocab"] = i.n_vocab, d["n_embd"] = i.n_embd;
  d["n_layers"] = i.n_layers, d["n_heads"] = i.n_heads, d["n_heads_kv"] = i.n_heads_kv, d["head_dim"] = i.head_dim;
  d["n_ff"] = i.n_ff, d["n_ctx_train"] = i.n_ctx_train, d["n_params"] = i.n_params, d["file_bytes"] = i.file_bytes;
  d["has_chat_template"] = i.has_chat_template;
  return d;
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> a((py::ssize_t)v.size());
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// [n_layers, n_heads_kv, n_context]: true where the entry was kept.
py::array_t<bool> kept_mask(const Session& s) {
  const auto L = s.n_layers(), H = s.n_heads_kv(), N = (int64_t)s.context_ids().size();
  py::array_t<bool> mask({L, H, N});
  bool* m = mask.mutable_data();
  std::fill(m, m + L * H * N, false);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h)
      for (int32_t p : s.kept_positions(l, h))
        if (p >= 0 && p < N) m[(l * H + h) * N + p] = true;
  return mask;
}

// [n_layers, n_heads_kv, n_context] scores, NaN for layers without recorded scores; None if none.
py::object scores_array(const Session& s) {
  const auto L = s.n_layers(), H = s.n_heads_kv(), N = (int64_t)s.context_ids().size();
  py::array_t<float> out({L, H, N});
  float* o = out.mutable_data();
  bool any = false;
  for (int64_t l = 0; l < L; ++l) {
    const std::vector<float> sc = s.scores(l);
    float* dst = o + l * H * N;
    if ((int64_t)sc.size() == H * N) {
      std::copy(sc.begin(), sc.end(), dst);
      any = true;
    } else {
      std::fill(dst, dst + H * N, std::numeric_limits<float>::quiet_NaN());
    }
  }
  return any ? py::object(out) : py::none();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "kvpress.cpp: KV-cache compression for GGUF language models (C++ core)";
  m.attr("__version__") = KVPRESS_VERSION_STRING;
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });

  py::class_<PressConfig>(m, "PressConfig", "A press by value: registry specification plus compression ratio")
      .def(py::init<>())
      .def_static("from_spec", &PressConfig::from_spec, py::arg("spec"), py::arg("compression_ratio"))
      .def_static("make", &PressConfig::make, py::arg("name"), py::arg("compression_ratio"),
                  py::arg("parameters") = PressConfig::Parameters{})
      .def_static("wrap", &PressConfig::wrap, py::arg("name"), py::arg("inner"),
                  py::arg("parameters") = PressConfig::Parameters{})
      .def_property_readonly("spec", &PressConfig::spec)
      .def_property_readonly("compression_ratio", &PressConfig::compression_ratio)
      .def_property_readonly("is_none", &PressConfig::is_none)
      .def("canonical_spec", &PressConfig::canonical_spec)
      .def("__repr__", [](const PressConfig& c) {
        return "PressConfig('" + (c.is_none() ? std::string("none") : c.spec()) + "', " +
               std::to_string(c.compression_ratio()) + ")";
      });

  m.def("press_catalog", [] {
    py::list out;
    for (const PressDescription& d : press_catalog()) {
      py::dict e;
      e["name"] = d.name, e["description"] = d.description, e["is_wrapper"] = d.is_wrapper;
      e["is_alias"] = d.is_alias, e["expands_to"] = d.expands_to;
      py::list params;
      for (const PressParameter& p : d.parameters) params.append(py::make_tuple(p.name, p.default_value));
      e["parameters"] = params;
      out.append(e);
    }
    return out;
  });
  m.def("press_spec_help", &press_spec_help);

  py::class_<Engine>(m, "Engine", "A loaded GGUF model with its tokenizer and thread pool")
      .def(py::init([](const std::string& path, int n_threads, bool exact_matmul) {
             EngineOptions o;
             o.n_threads = n_threads;
             o.exact_matmul = exact_matmul;
             return Engine::load(path, o);
           }),
           py::arg("model"), py::arg("n_threads") = 0, py::arg("exact_matmul") = false, Release())
      .def_property_readonly("info", [](const Engine& e) { return info_dict(e.info()); })
      .def_property_readonly("n_threads", &Engine::n_threads)
      .def("kv_bytes_per_token", [](const Engine& e, const std::string& k, const std::string& v) {
        return e.kv_bytes_per_token(kv_types_of(k, v));
      }, py::arg("kv_type_k") = "f16", py::arg("kv_type_v") = "f16")
      .def("tokenize", &Engine::tokenize, py::arg("text"), py::arg("add_special") = true,
           py::arg("parse_special") = false)
      .def("detokenize", [](const Engine& e, const std::vector<int32_t>& ids, bool skip_special) {
        return e.detokenize(ids, skip_special);
      }, py::arg("ids"), py::arg("skip_special") = true)
      .def("generate", [](const Engine& e, const std::string& prompt, int64_t max_new_tokens, bool chat,
                          float temperature, int32_t top_k, float top_p, uint64_t seed) {
        GenerationOptions o;
        o.max_new_tokens = max_new_tokens;
        o.sampling = {temperature, top_k, top_p, seed};
        const auto ids = chat ? e.chat_prompt(prompt) : e.tokenize(prompt);
        return e.generate(ids, o).text;
      }, py::arg("prompt"), py::arg("max_new_tokens") = 128, py::arg("chat") = false, py::arg("temperature") = 0.0f,
         py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("seed") = 0, Release());

  py::class_<Session>(m, "Session", "A context prefilled and compressed once; questions answered on its cache")
      .def(py::init([](const Engine& e, const std::string& context, const PressConfig& press, const std::string& k,
                       const std::string& v, std::optional<int64_t> max_context_length, bool use_chat_template,
                       bool record_scores, int64_t prefill_chunk) {
        SessionOptions o;
        o.prefill_chunk = prefill_chunk;
        o.kv_types = kv_types_of(k, v);
        o.max_context_length = max_context_length;
        o.use_chat_template = use_chat_template;
        o.record_scores = record_scores;
        return Session::from_text(e, context, press, o);
      }), py::arg("engine"), py::arg("context"), py::arg("press"), py::arg("kv_type_k") = "f16",
          py::arg("kv_type_v") = "f16", py::arg("max_context_length") = py::none(),
          py::arg("use_chat_template") = true, py::arg("record_scores") = false, py::arg("prefill_chunk") = 0,
          Release())
      .def_static("from_tokens", [](const Engine& e, const std::vector<int32_t>& ids, const PressConfig& press,
                                    const std::string& k, const std::string& v, bool record_scores) {
        SessionOptions o;
        o.kv_types = kv_types_of(k, v);
        o.record_scores = record_scores;
        return Session::from_tokens(e, ids, press, o);
      }, py::arg("engine"), py::arg("ids"), py::arg("press"), py::arg("kv_type_k") = "f16",
         py::arg("kv_type_v") = "f16", py::arg("record_scores") = false, Release())
      .def_static("load", [](const Engine& e, const std::string& path) { return Session::load(e, path); },
                  py::arg("engine"), py::arg("path"),
                  "A session from a cache file written by save() (no prefill; docs/kv-cache-file.md)", Release())
      .def("save", &Session::save, py::arg("path"),
           "Writes the compressed cache to a file, atomically; returns its size in bytes", Release())
      .def("ask", [](Session& s, const std::string& question, const std::string& answer_prefix,
                     int64_t max_new_tokens) {
        AskOptions o;
        o.answer_prefix = answer_prefix;
        o.max_new_tokens = max_new_tokens;
        return s.ask(question, o).text;
      }, py::arg("question") = "", py::arg("answer_prefix") = "", py::arg("max_new_tokens") = 50, Release())
      .def("converse", [](Session& s, const std::string& question, const std::string& answer_prefix,
                          int64_t max_new_tokens) {
        AskOptions o;
        o.answer_prefix = answer_prefix;
        o.max_new_tokens = max_new_tokens;
        return s.converse(question, o).text;
      }, py::arg("question"), py::arg("answer_prefix") = "", py::arg("max_new_tokens") = 50,
         "A conversation turn: the question and its answer stay in the cache", Release())
      .def_property_readonly("turns", &Session::turns)
      .def("ask_tokens", [](Session& s, const std::vector<int32_t>& ids, int64_t max_new_tokens) {
        AskOptions o;
        o.max_new_tokens = max_new_tokens;
        return s.ask_tokens(ids, o).ids;
      }, py::arg("ids"), py::arg("max_new_tokens") = 50, Release())
      .def_property_readonly("stats", [](const Session& s) {
        py::dict d = stats_dict(s.stats());
        d["kv_bytes_peak"] = s.kv_bytes_peak(), d["peak_kv_entries_per_head"] = s.peak_kv_entries_per_head();
        return d;
      })
      .def_property_readonly("warnings", &Session::warnings)
      .def_property_readonly("press", &Session::press)
      .def_property_readonly("n_layers", &Session::n_layers)
      .def_property_readonly("n_heads_kv", &Session::n_heads_kv)
      .def_property_readonly("context_ids", [](const Session& s) { return to_array(s.context_ids()); })
      .def("kept_positions", [](const Session& s, int64_t layer, int64_t head) {
        return to_array(s.kept_positions(layer, head));
      }, py::arg("layer"), py::arg("head"))
      .def("kept_mask", &kept_mask)
      .def("scores", &scores_array);

  m.def("answer", [](const Engine& e, const std::string& context, const std::vector<std::string>& questions,
                     const PressConfig& press, const std::string& answer_prefix, int64_t max_new_tokens,
                     std::optional<int64_t> max_context_length, bool query_aware, const std::string& k,
                     const std::string& v, int64_t prefill_chunk) {
    AnswerOptions o;
    o.prefill_chunk = prefill_chunk;
    o.answer_prefix = answer_prefix;
    o.max_new_tokens = max_new_tokens;
    o.max_context_length = max_context_length;
    o.query_aware = query_aware;
    o.kv_types = kv_types_of(k, v);
    AnswerResult r;
    {
      py::gil_scoped_release nogil;
      r = answer(e, context, questions, press, o);
    }
    py::dict stats;
    stats["context_tokens"] = r.stats.context_tokens, stats["kv_bytes_full"] = r.stats.kv_bytes_full;
    stats["kv_bytes"] = r.stats.kv_bytes, stats["prefill_ms"] = r.stats.prefill_ms;
    stats["compression_ms"] = r.stats.compression_ms, stats["decode_ms"] = r.stats.decode_ms;
    stats["generated_tokens"] = r.stats.generated_tokens;
    stats["kv_bytes_peak"] = r.stats.kv_bytes_peak, stats["peak_kv_entries_per_head"] = r.stats.peak_kv_entries_per_head;
    py::dict out;
    out["answers"] = r.answers, out["stats"] = stats, out["warnings"] = r.warnings;
    return out;
  }, py::arg("engine"), py::arg("context"), py::arg("questions"), py::arg("press"), py::arg("answer_prefix") = "",
     py::arg("max_new_tokens") = 50, py::arg("max_context_length") = py::none(), py::arg("query_aware") = false,
     py::arg("kv_type_k") = "f16", py::arg("kv_type_v") = "f16", py::arg("prefill_chunk") = 0);
}
