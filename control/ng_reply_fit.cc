// frame_fitting_reply: a list cut to what fits (its warning says how much),
// anything else over the bound replaced by an error.
#include "control/ng_reply_fit.h"

#include <algorithm>

#include "control/ng_commands.h"

namespace vox::control {

namespace {

NgValue::List* calls_of(NgValue& reply) {
  if (!reply.is_dict()) return nullptr;
  for (auto& [key, value] : reply.as_dict())
    if (key == "calls" && value.is_list()) return &value.as_list();
  return nullptr;
}

// The bencoded size of a string: "LEN:" + bytes (JSON adds at least as much: quotes, comma).
size_t encoded_size(const NgValue& v) {
  const size_t n = v.is_string() ? v.as_string().size() : 20;
  return std::to_string(n).size() + 1 + n;
}

// The list cut to its first n calls, with the warning; framed.
std::string framed_list(std::string_view cookie, const NgValue& reply, const NgValue::List& all, size_t n,
                        NgEncoding enc) {
  NgValue cut = reply;
  calls_of(cut)->assign(all.begin(), all.begin() + std::ptrdiff_t(n));
  cut.set("warning", "list truncated: " + std::to_string(n) + " of " + std::to_string(all.size()) +
                         " calls (one UDP datagram)");
  return frame_ng_reply(cookie, cut, enc);
}

}  // namespace

FittedReply frame_fitting_reply(std::string_view cookie, NgValue reply, NgEncoding enc, bool is_list,
                                size_t max_size) {
  std::string framed = frame_ng_reply(cookie, reply, enc);
  if (framed.size() <= max_size) return {std::move(framed), ReplyFit::kFits};
  if (NgValue::List* calls = is_list ? calls_of(reply) : nullptr) {
    const NgValue::List all = std::move(*calls);
    calls->clear();
    // First guess: drop call-ids from the end until their encoded size
    // covers the excess and the warning (exact for bencode); then shrink
    // until it fits (JSON's quotes and escapes).
    constexpr size_t kWarningSize = 96;
    size_t excess = framed.size() - max_size + kWarningSize, n = all.size();
    while (n > 0 && excess > 0) {
      const size_t s = encoded_size(all[--n]);
      excess -= std::min(excess, s);
    }
    for (;;) {
      std::string cut = framed_list(cookie, reply, all, n, enc);
      if (cut.size() <= max_size) return {std::move(cut), ReplyFit::kTruncatedList};
      if (n == 0) break;
      n = n > 20 ? n - std::max<size_t>(1, n / 20) : n - 1;
    }
  }
  const NgValue error = ng_error(NgError{NgErrc::kReplyTooLarge, std::to_string(framed.size()) + " bytes"});
  return {frame_ng_reply(cookie, error, enc), ReplyFit::kTooLarge};
}

}  // namespace vox::control
