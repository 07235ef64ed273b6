// Compress a context file once with a press, then answer each question on the compressed cache:
//   answer_question MODEL.gguf CONTEXT.txt PRESS RATIO QUESTION [QUESTION...]
// e.g. answer_question models/kvpress-needle-2m.gguf essay.txt snapkv 0.5 "What is the magic number?"
// Prints one answer per line, then the cache sizes on stderr. Uses only the installed public API.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <kvpress/kvpress.h>

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s MODEL.gguf CONTEXT.txt PRESS RATIO QUESTION [QUESTION...]\n", argv[0]);
    return 2;
  }
  try {
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw kvpress::Error(std::string(argv[2]) + ": cannot open file");
    std::stringstream context;
    context << in.rdbuf();

    const kvpress::Engine engine = kvpress::Engine::load(argv[1]);
    const kvpress::PressConfig press = kvpress::PressConfig::from_spec(argv[3], std::stod(argv[4]));
    kvpress::Session session = kvpress::Session::from_text(engine, context.str(), press);
    for (int i = 5; i < argc; ++i) std::printf("%s\n", session.ask(argv[i]).text.c_str());

    const kvpress::PrefillStats& s = session.stats();
    std::fprintf(stderr, "%s %s: %lld context tokens, KV cache %lld of %lld bytes\n", KVPRESS_VERSION_STRING,
                 press.canonical_spec().c_str(), (long long)s.context_tokens, (long long)s.kv_bytes,
                 (long long)s.kv_bytes_full);
    return 0;
  } catch (const kvpress::Error& e) {  // the library's one-line message
    std::fprintf(stderr, "answer_question: %s\n", e.what());
    return 1;
  }
}
