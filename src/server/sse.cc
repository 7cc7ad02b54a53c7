// The Server-Sent Events reader (sse.h).
#include "server/sse.h"

namespace sluice {

std::vector<SseMessage> SseParser::Feed(std::string_view bytes) {
  std::vector<SseMessage> out;
  for (char c : bytes) {
    if (after_cr_ && c == '\n') {  // the LF of a CRLF: the line already ended at its CR
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      Line(partial_, out);
      partial_.clear();
    } else {
      partial_ += c;
    }
  }
  return out;
}

void SseParser::Line(std::string_view line, std::vector<SseMessage>& out) {
  if (line.empty()) {
    if (has_data_) {
      if (current_.event.empty()) current_.event = "message";
      out.push_back(std::move(current_));
    }
    current_ = SseMessage{};
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment: the keep-alive
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data += value;
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id = value;
  } else if (field == "event") {
    current_.event = value;
  }  // retry and unknown fields: ignored
}

}  // namespace sluice
