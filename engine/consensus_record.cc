#include "engine/consensus_record.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace consensusd::engine {

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void AppendProbability(std::string& out, double p) {
  char buf[32];
  // The shortest text that reads back as the same double (and fast).
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, p);
  out.append(buf, r.ptr);
}

void AppendConsensusJson(std::string_view project, const consensus::StreamingModel& model,
                         int32_t task, int64_t updated_ms, std::string& out) {
  const int32_t label = model.Label(task);
  const auto posterior = model.Posterior(task);
  const auto& classes = model.classes();
  out += "{\"project\":";
  AppendJsonString(out, project);
  out += ",\"task\":";
  AppendJsonString(out, model.tasks().Name(task));
  out += ",\"label\":";
  AppendJsonString(out, classes.Name(label));
  out += ",\"confidence\":";
  AppendProbability(out, posterior[label]);
  out += ",\"posterior\":{";
  for (int32_t k = 0; k < model.num_classes(); ++k) {
    if (k > 0) out.push_back(',');
    AppendJsonString(out, classes.Name(k));
    out.push_back(':');
    AppendProbability(out, posterior[k]);
  }
  out += "},\"answers\":";
  out += std::to_string(model.Answers(task).size());
  out += ",\"gold\":";
  const int32_t gold = model.Gold(task);
  if (gold == consensus::kNoGold) {
    out += "null";
  } else {
    AppendJsonString(out, classes.Name(gold));
  }
  out += ",\"updated_ms\":";
  out += std::to_string(updated_ms);
  out.push_back('}');
}

namespace {

}  // namespace

void AppendKeyPart(std::string& out, std::string_view part) {
  for (const char c : part) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
}

void AppendConsensusKey(std::string_view project, std::string_view task, std::string& out) {
  AppendKeyPart(out, project);
  out.push_back('/');
  AppendKeyPart(out, task);
}

std::string ConsensusKey(std::string_view project, std::string_view task) {
  std::string key;
  key.reserve(project.size() + 1 + task.size());
  AppendConsensusKey(project, task, key);
  return key;
}

void AppendCsvField(std::string& out, std::string_view field) {
  // A leading byte-order mark is quoted too: at the start of a file the reader
  // would skip it as the file's BOM.
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (field.find_first_of(",\"\r\n") == std::string_view::npos &&
      field.substr(0, kUtf8Bom.size()) != kUtf8Bom) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (const char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendLabelsHeader(const std::vector<std::string>& classes, bool posteriors, std::string& out) {
  out += "task,label,confidence";
  if (posteriors) {
    for (const std::string& c : classes) {
      out.push_back(',');
      AppendCsvField(out, "p:" + c);
    }
  }
  out.push_back('\n');
}

void AppendLabelsRow(std::string_view task, std::string_view label, double confidence,
                     std::span<const double> posterior, bool posteriors, std::string& out) {
  AppendCsvField(out, task);
  out.push_back(',');
  AppendCsvField(out, label);
  out.push_back(',');
  AppendProbability(out, confidence);
  if (posteriors) {
    for (const double p : posterior) {
      out.push_back(',');
      AppendProbability(out, p);
    }
  }
  out.push_back('\n');
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace consensusd::engine
