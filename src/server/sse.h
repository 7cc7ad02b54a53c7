// A reader of Server-Sent Events (text/event-stream, the WHATWG HTML standard's "Server-sent
// events" section) for the CLI that follows a server's event streams (docs/api.md, "Event
// streams"). Bytes go in as they arrive, in chunks cut anywhere; complete messages come out.
// Lines end with LF, CRLF or CR; a line starting with ':' is a comment (the server's
// keep-alive); `id`, `event` and `data` fields are kept (several data lines join with LF); a
// blank line ends a message. A message with no data is not dispatched, as the standard says.
//
// Pure and not thread-safe: one parser per stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct SseMessage {
  std::string id;     // "" when the message had no id field
  std::string event;  // "message" when it named none
  std::string data;
};

class SseParser {
 public:
  // Feeds the next bytes of the stream. Returns the messages they completed, in order.
  std::vector<SseMessage> Feed(std::string_view bytes);

 private:
  void Line(std::string_view line, std::vector<SseMessage>& out);

  std::string partial_;       // the bytes of a line not ended yet
  bool after_cr_ = false;     // the last byte fed was a CR: a LF now ends nothing more
  SseMessage current_;
  bool has_data_ = false;
};

}  // namespace sluice
