// Bencode decoder and encoder for NG messages. The decoder is iterative (an
// explicit stack bounded by DecodeLimits::max_depth), so hostile nesting can
// never exhaust the call stack, and it checks every length before reading.
#include "control/bencode.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace vox::control {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Decoder {
 public:
  Decoder(std::string_view in, DecodeLimits limits) : in_(in), limits_(limits) {}

  Result<NgValue, DecodeError> run() {
    for (;;) {
      if (pos_ >= in_.size()) return Err{DecodeError::kTruncated};
      const char c = in_[pos_];
      if (!stack_.empty()) {
        Frame& top = stack_.back();
        if (c == 'e') {
          // A dict key must be followed by its value before the dict ends.
          if (top.has_key) return Err{DecodeError::kSyntax};
          ++pos_;
          NgValue done = std::move(top.container);
          stack_.pop_back();
          if (attach(std::move(done))) break;
          continue;
        }
        if (top.container.is_dict() && !top.has_key) {
          // Dictionary keys are byte strings (BEP 3); anything else is malformed.
          if (!is_digit(c)) return Err{DecodeError::kSyntax};
          auto key = read_string();
          if (!key.ok()) return Err{key.error()};
          top.key = std::move(key.value());
          top.has_key = true;
          continue;
        }
      }
      if (++elements_ > limits_.max_elements) return Err{DecodeError::kTooLarge};
      if (c == 'l' || c == 'd') {
        if (static_cast<int64_t>(stack_.size()) >= limits_.max_depth) return Err{DecodeError::kTooDeep};
        ++pos_;
        stack_.push_back(Frame{c == 'l' ? NgValue::list() : NgValue::dict(), {}, false});
        continue;
      }
      NgValue scalar;
      if (c == 'i') {
        auto i = read_integer();
        if (!i.ok()) return Err{i.error()};
        scalar = NgValue::integer(i.value());
      } else if (is_digit(c)) {
        auto s = read_string();
        if (!s.ok()) return Err{s.error()};
        scalar = NgValue::str(std::move(s.value()));
      } else {
        return Err{DecodeError::kSyntax};
      }
      if (attach(std::move(scalar))) break;
    }
    if (pos_ != in_.size()) return Err{DecodeError::kTrailingData};
    return std::move(root_);
  }

 private:
  struct Frame {
    NgValue container;
    std::string key;  // pending dict key
    bool has_key = false;
  };

  // Adds a finished value to the open container; true when it was the root.
  bool attach(NgValue v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.container.is_list()) {
      top.container.as_list().push_back(std::move(v));
    } else {
      // emplace_back, not set(): duplicate keys are kept as sent so that
      // re-encoding reproduces the input; lookups return the first one.
      top.container.as_dict().emplace_back(std::move(top.key), std::move(v));
      top.key.clear();
      top.has_key = false;
    }
    return false;
  }

  // "i" ["-"] digits "e"; no leading zeros, no "-0", must fit int64 (BEP 3).
  Result<int64_t, DecodeError> read_integer() {
    ++pos_;  // 'i'
    if (pos_ >= in_.size()) return Err{DecodeError::kTruncated};
    bool negative = false;
    if (in_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    const size_t digits_begin = pos_;
    // Accumulate as a negative number so INT64_MIN is representable.
    int64_t acc = 0;
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      const int d = in_[pos_] - '0';
      if (acc < (kMin + d) / 10) return Err{DecodeError::kBadInteger};
      acc = acc * 10 - d;
      ++pos_;
    }
    if (pos_ >= in_.size()) return Err{DecodeError::kTruncated};
    const size_t ndigits = pos_ - digits_begin;
    if (in_[pos_] != 'e' || ndigits == 0) return Err{DecodeError::kBadInteger};
    if (ndigits > 1 && in_[digits_begin] == '0') return Err{DecodeError::kBadInteger};
    if (negative && acc == 0) return Err{DecodeError::kBadInteger};  // "-0"
    ++pos_;  // 'e'
    if (!negative) {
      if (acc == kMin) return Err{DecodeError::kBadInteger};
      return -acc;
    }
    return acc;
  }

  // digits ":" bytes. The length is checked against the remaining input
  // before anything is allocated, so a huge prefix cannot cost memory.
  Result<std::string, DecodeError> read_string() {
    const size_t digits_begin = pos_;
    size_t len = 0;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      const size_t d = size_t(in_[pos_] - '0');
      // Longer than the whole input: reject before len*10 could overflow.
      if (len > in_.size() / 10) return Err{DecodeError::kBadLength};
      len = len * 10 + d;
      ++pos_;
    }
    if (pos_ >= in_.size()) return Err{DecodeError::kTruncated};
    if (in_[pos_] != ':') return Err{DecodeError::kBadLength};
    if (pos_ - digits_begin > 1 && in_[digits_begin] == '0') return Err{DecodeError::kBadLength};
    ++pos_;  // ':'
    if (len > in_.size() - pos_) return Err{DecodeError::kBadLength};
    std::string s(in_.substr(pos_, len));
    pos_ += len;
    return s;
  }

  std::string_view in_;
  DecodeLimits limits_;
  size_t pos_ = 0;
  int64_t elements_ = 0;
  std::vector<Frame> stack_;
  NgValue root_;
};

void encode_string(std::string_view s, std::string& out) {
  out += std::to_string(s.size());
  out += ':';
  out.append(s);
}

}  // namespace

Result<NgValue, DecodeError> decode_bencode(std::string_view in, DecodeLimits limits) {
  return Decoder(in, limits).run();
}

void encode_bencode(const NgValue& v, std::string& out) {
  switch (v.type()) {
    case NgValue::Type::String:
      encode_string(v.as_string(), out);
      return;
    case NgValue::Type::Integer:
      out += 'i';
      out += std::to_string(v.as_integer());
      out += 'e';
      return;
    case NgValue::Type::List:
      out += 'l';
      for (const auto& e : v.as_list()) encode_bencode(e, out);
      out += 'e';
      return;
    case NgValue::Type::Dict:
      // Insertion order, as rtpengine does; NG peers do not require sorted keys.
      out += 'd';
      for (const auto& [k, e] : v.as_dict()) {
        encode_string(k, out);
        encode_bencode(e, out);
      }
      out += 'e';
      return;
  }
}

std::string encode_bencode(const NgValue& v) {
  std::string out;
  encode_bencode(v, out);
  return out;
}

}  // namespace vox::control
