// The press registry: names from press_list.inc, aliases, and building presses from spec strings.
#include "press/press_registry.h"

#include <algorithm>

#include "core/error.h"
#include "press/press_args.h"
#include "press/press_spec.h"

namespace kvpress {

// Every press class and its factory (specialised in presses/<name>.cpp).
#define PRESS(name, Class, description) \
  class Class;                          \
  template <>                           \
  std::unique_ptr<Press> create_press<Class>(PressArgs & args);
#include "press/press_list.inc"

namespace {

using Factory = std::unique_ptr<Press> (*)(PressArgs&);

struct Entry {
  const char* name;
  const char* description;
  Factory factory;
};

struct Alias {
  const char* name;
  const char* spec;  // nullptr: no press at all
  const char* description;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
#define PRESS(name, Class, description) {#name, description, &create_press<Class>},
#include "press/press_list.inc"
  };
  return list;
}

const std::vector<Alias>& aliases() {
  static const std::vector<Alias> list = {
#define PRESS_ALIAS(name, spec, description) {#name, spec, description},
#include "press/press_list.inc"
      {"no_press", nullptr, "no compression (kvpress registry name)"},
      {"none", nullptr, "no compression"},
  };
  return list;
}

const Entry* find_entry(const std::string& name) {
  for (const auto& e : entries())
    if (name == e.name) return &e;
  return nullptr;
}

const Alias* find_alias(const std::string& name) {
  for (const auto& a : aliases())
    if (name == a.name) return &a;
  return nullptr;
}

std::string all_names() {
  std::string s;
  for (const auto& e : entries()) s.append(s.empty() ? "" : ", ").append(e.name);
  for (const auto& a : aliases()) s += ", " + std::string(a.name);
  return s;
}

// Whether the press registered as `name` takes parameter `key`.
bool declares(const std::string& name, const std::string& key) {
  const Entry* e = find_entry(name);
  if (!e) return false;
  PressArgs args(name, {}, {}, true);
  e->factory(args);
  return args.declared(key);
}

// Parameters of an alias go to the outermost press of its first-inner chain that takes them (the
// target_size of decoding_knorm), else to the scoring press at the end of the chain (which then
// names the unknown key).
void merge_into_alias(PressSpec& spec, const std::vector<std::pair<std::string, std::string>>& params) {
  for (const auto& param : params) {
    const std::string& key = param.first;  // not a structured binding: clang 14 cannot capture one
    const std::string& value = param.second;
    PressSpec* target = &spec;
    while (!declares(target->name, key) && !target->inner.empty()) target = &target->inner.front();
    auto it = std::find_if(target->params.begin(), target->params.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != target->params.end())
      it->second = value;
    else
      target->params.emplace_back(key, value);
  }
}

std::unique_ptr<Press> build(const PressSpec& spec, int depth) {
  if (depth > 16) fail("press specification nests more than 16 levels");
  if (const Alias* alias = find_alias(spec.name)) {
    if (!alias->spec) {
      if (depth > 0) fail("'", spec.name, "' (no press) cannot be used inside another press");
      if (!spec.inner.empty() || !spec.params.empty()) fail("'", spec.name, "' takes no inner presses or parameters");
      return nullptr;
    }
    if (!spec.inner.empty())
      fail("'", spec.name, "' is an alias of ", alias->spec, " and takes no inner presses; write the full specification");
    PressSpec expanded = parse_press_spec(alias->spec);
    merge_into_alias(expanded, spec.params);
    return build(expanded, depth + 1);
  }
  const Entry* entry = find_entry(spec.name);
  if (!entry) fail("unknown press '", spec.name, "' (available: ", all_names(), ")");
  std::vector<std::unique_ptr<Press>> inner;
  for (const auto& s : spec.inner) {
    auto p = build(s, depth + 1);
    KV_CHECK(p != nullptr);
    inner.push_back(std::move(p));
  }
  PressArgs args(spec.name, spec.params, std::move(inner), false);
  auto press = entry->factory(args);
  args.check_complete();
  KV_CHECK(press != nullptr);
  return press;
}

}  // namespace

std::vector<PressInfo> registered_presses() {
  std::vector<PressInfo> out;
  for (const auto& e : entries()) {
    PressArgs args(e.name, {}, {}, true);
    e.factory(args);
    out.push_back({e.name, e.description, args.is_wrapper(), args.parameter_summary(), ""});
  }
  for (const auto& a : aliases()) out.push_back({a.name, a.description, false, "", a.spec ? a.spec : ""});
  return out;
}

std::unique_ptr<Press> make_press(const std::string& spec, double compression_ratio) {
  validate_compression_ratio(compression_ratio);
  auto press = build(parse_press_spec(spec), 0);
  if (press) press->set_compression_ratio(compression_ratio);
  return press;
}

std::string press_spec_help() {
  return "Press specification:  name[(inner,...)][:key=value,...]\n"
         "  knorm                              a press with its default parameters\n"
         "  snapkv:window_size=32,kernel_size=7\n"
         "  adakv(snapkv):alpha_safeguard=0.1  a wrapper around an inner scorer press\n"
         "  composed(knorm,streaming_llm:n_sink=8)\n"
         "  expected_attention                 alias of adakv(expected_attention_press:epsilon=0.01);\n"
         "                                     parameters given to an alias go to its scoring press\n"
         "  none, no_press                     no compression\n"
         "The compression ratio (fraction of KV pairs removed, in [0, 1)) is given separately.";
}

}  // namespace kvpress
