// RULER string matching, SQuAD-style F1 and the LongBench metrics.
#include "eval/metrics.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "eval/rouge.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

// Python's \w for our purposes: ASCII letters, digits, underscore, and any non-ASCII byte (most non-ASCII
// characters in answers are letters; Python decides per code point).
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u >= 0x80;
}

// re.sub(r"\b(a|an|the)\b", " ", s): boundaries are judged on the original text.
std::string remove_articles(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const bool boundary_before = i == 0 || !is_word_byte(s[i - 1]);
    std::size_t matched = 0;
    if (boundary_before) {
      for (std::string_view article : {std::string_view("a"), std::string_view("an"), std::string_view("the")}) {
        if (s.substr(i, article.size()) == article) {
          const std::size_t end = i + article.size();
          if (end == s.size() || !is_word_byte(s[end])) {
            matched = article.size();
            break;
          }
        }
      }
    }
    if (matched > 0) {
      out.push_back(' ');
      i += matched;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

double paragraph_retrieval(std::string_view prediction, std::string_view ground_truth, std::string_view marker) {
  // re.findall(marker + r"(\d+)", ground_truth)[0]
  std::string id;
  for (std::size_t at = ground_truth.find(marker); at != std::string_view::npos; at = ground_truth.find(marker, at + 1)) {
    std::size_t j = at + marker.size();
    while (j < ground_truth.size() && ground_truth[j] >= '0' && ground_truth[j] <= '9') ++j;
    if (j > at + marker.size()) {
      id = std::string(ground_truth.substr(at + marker.size(), j - at - marker.size()));
      break;
    }
  }
  if (id.empty()) fail("retrieval ground truth '", ground_truth, "' has no '", marker, "<number>'");
  return count_score(prediction, id);
}

}  // namespace

std::string clean_ruler_prediction(std::string_view prediction) {
  const std::string stripped = text::strip(prediction);
  std::string kept;
  for (char c : stripped)
    if (static_cast<unsigned char>(c) > 0x1f) kept.push_back(c);
  return text::strip(kept);
}

double string_match_all_row(std::string_view prediction, const std::vector<std::string>& refs) {
  if (refs.empty()) fail("string_match_all: a record has no reference answers");
  const std::string pred = text::ascii_lower(prediction);
  double hits = 0;
  for (const std::string& r : refs) hits += text::contains(pred, text::ascii_lower(r)) ? 1.0 : 0.0;
  return hits / static_cast<double>(refs.size());
}

double string_match_part_row(std::string_view prediction, const std::vector<std::string>& refs) {
  if (refs.empty()) fail("string_match_part: a record has no reference answers");
  const std::string pred = text::ascii_lower(prediction);
  for (const std::string& r : refs)
    if (text::contains(pred, text::ascii_lower(r))) return 1.0;
  return 0.0;
}

namespace {
template <typename RowFn>
double string_match(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& refs,
                    RowFn row) {
  if (predictions.empty() || predictions.size() != refs.size())
    fail("string_match: ", predictions.size(), " predictions for ", refs.size(), " reference lists");
  double sum = 0;
  for (std::size_t i = 0; i < predictions.size(); ++i) sum += row(predictions[i], refs[i]);
  return text::py_round(sum / static_cast<double>(predictions.size()) * 100, 2);  // Python's operation order
}
}  // namespace

double string_match_all(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& refs) {
  return string_match(predictions, refs, string_match_all_row);
}

double string_match_part(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& refs) {
  return string_match(predictions, refs, string_match_part_row);
}

std::string normalize_answer(std::string_view s) {
  std::string no_punct;
  for (char c : text::ascii_lower(s))
    if (!text::is_ascii_punct(c)) no_punct.push_back(c);
  return text::collapse_whitespace(remove_articles(no_punct));
}

double token_f1(const std::vector<std::string>& prediction, const std::vector<std::string>& ground_truth) {
  std::map<std::string, int> pred_counts, gt_counts;
  for (const auto& t : prediction) ++pred_counts[t];
  for (const auto& t : ground_truth) ++gt_counts[t];
  int same = 0;
  for (const auto& [token, n] : pred_counts) {
    const auto it = gt_counts.find(token);
    if (it != gt_counts.end()) same += std::min(n, it->second);
  }
  if (same == 0) return 0.0;
  const double precision = 1.0 * same / static_cast<double>(prediction.size());
  const double recall = 1.0 * same / static_cast<double>(ground_truth.size());
  return (2 * precision * recall) / (precision + recall);
}

double qa_f1_score(std::string_view prediction, std::string_view ground_truth) {
  return token_f1(text::split_whitespace(normalize_answer(prediction)), text::split_whitespace(normalize_answer(ground_truth)));
}

double rouge_l_f_score(std::string_view prediction, std::string_view ground_truth) {
  return rouge_scores(prediction, ground_truth).rouge_l.f;
}

double classification_score(std::string_view prediction, std::string_view ground_truth,
                            const std::vector<std::string>& all_classes) {
  std::vector<std::string> matches;
  for (const std::string& c : all_classes)
    if (text::contains(prediction, c)) matches.push_back(c);
  // Python removes from the list it iterates: after a removal the next element is skipped.
  for (std::size_t i = 0; i < matches.size(); ++i) {
    const std::string term = matches[i];
    if (text::contains(ground_truth, term) && term != ground_truth)
      matches.erase(std::find(matches.begin(), matches.end(), term));
  }
  if (std::find(matches.begin(), matches.end(), std::string(ground_truth)) == matches.end()) return 0.0;
  return 1.0 / static_cast<double>(matches.size());
}

double retrieval_score(std::string_view prediction, std::string_view ground_truth) {
  return paragraph_retrieval(prediction, ground_truth, "Paragraph ");
}

double retrieval_zh_score(std::string_view prediction, std::string_view ground_truth) {
  return paragraph_retrieval(prediction, ground_truth, "\xE6\xAE\xB5\xE8\x90\xBD");  // "段落"
}

double count_score(std::string_view prediction, std::string_view ground_truth) {
  const std::vector<std::string> numbers = text::digit_runs(prediction);
  if (numbers.empty()) return 0.0;
  int right = 0;
  for (const std::string& n : numbers) right += n == ground_truth ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}

}  // namespace kvpress
