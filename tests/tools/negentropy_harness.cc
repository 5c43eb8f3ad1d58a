// The conformance kit's harness for our negentropy implementation
// (../shared/negentropy-conformance, README: the line protocol). Reads lines
// on stdin:
//   item,<timestamp>,<64 hex>   add an item
//   seal                        the set is complete ($FRAMESIZELIMIT, 0 = none)
//   initiate                    -> msg,<hex>
//   msg,<hex>                   -> have,<id>/need,<id> lines (initiator), then msg,<hex> or done
// Any error: one line on stderr, exit 1 (the kit then reports a failure).
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "sync/negentropy.h"

namespace neg = nb::sync::negentropy;

namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "negentropy_harness: " << message << "\n";
  std::exit(1);
}

std::vector<std::string> SplitCommas(const std::string& line) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t comma = line.find(',', begin);
    parts.push_back(
        line.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
    if (comma == std::string::npos) return parts;
    begin = comma + 1;
  }
}

uint64_t ParseUnsigned(const std::string& text, const char* what) {
  if (text.empty() || text.size() > 20 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    Fail(std::string("bad ") + what + ": " + text);
  }
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0) Fail(std::string("bad ") + what + ": " + text);
  return value;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  size_t frame_size_limit = 0;
  if (const char* env = std::getenv("FRAMESIZELIMIT"); env != nullptr && *env != '\0') {
    frame_size_limit = ParseUnsigned(env, "FRAMESIZELIMIT");
  }

  neg::Storage storage;
  std::optional<neg::Reconciler> reconciler;
  bool initiator = false;

  auto check_frame = [&](const nb::Bytes& message) {
    if (frame_size_limit != 0 && message.size() > frame_size_limit) {
      Fail("frame size limit exceeded: " + std::to_string(message.size()));
    }
  };

  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> parts = SplitCommas(line);
    const std::string& command = parts[0];
    if (command == "item") {
      if (parts.size() != 3) Fail("item needs a timestamp and an id");
      uint64_t timestamp = ParseUnsigned(parts[1], "timestamp");
      std::optional<nb::Bytes> id_bytes = nb::HexDecode(parts[2]);
      if (!id_bytes || id_bytes->size() != 32) Fail("bad id: " + parts[2]);
      neg::Id id;
      std::copy(id_bytes->begin(), id_bytes->end(), id.begin());
      if (nb::Status status = storage.Insert(timestamp, id); !status.ok()) {
        Fail(status.error().message);
      }
    } else if (command == "seal") {
      storage.Seal();
      reconciler.emplace(storage, frame_size_limit);
    } else if (command == "initiate") {
      if (!reconciler) Fail("initiate before seal");
      initiator = true;
      nb::Result<nb::Bytes> message = reconciler->Initiate();
      if (!message.ok()) Fail(message.error().message);
      check_frame(*message);
      std::cout << "msg," << nb::HexEncode(*message) << "\n" << std::flush;
    } else if (command == "msg") {
      if (!reconciler) Fail("msg before seal");
      if (parts.size() != 2) Fail("msg needs one hex argument");
      std::optional<nb::Bytes> input = nb::HexDecode(parts[1]);
      if (!input) Fail("bad hex in msg");
      if (initiator) {
        std::vector<neg::Id> have, need;
        nb::Result<std::optional<nb::Bytes>> next = reconciler->Reconcile(*input, &have, &need);
        if (!next.ok()) Fail(next.error().message);
        for (const neg::Id& id : have) std::cout << "have," << nb::HexEncode(id) << "\n";
        for (const neg::Id& id : need) std::cout << "need," << nb::HexEncode(id) << "\n";
        if (!next->has_value()) {
          std::cout << "done\n" << std::flush;
        } else {
          check_frame(**next);
          std::cout << "msg," << nb::HexEncode(**next) << "\n" << std::flush;
        }
      } else {
        nb::Result<nb::Bytes> reply = reconciler->Respond(*input);
        if (!reply.ok()) Fail(reply.error().message);
        check_frame(*reply);
        std::cout << "msg," << nb::HexEncode(*reply) << "\n" << std::flush;
      }
    } else {
      Fail("unknown command: " + command);
    }
  }
  return 0;
}
