// A JSON text written member after member: what encode_call needs after
// every offer and answer, without building a document tree first
// (nlohmann::json's tree cost ~50 µs per call, this ~2). Bytes gather in a
// small inline buffer, appended to the text when it fills, so that a
// comma or a quote is a store, not a call. Strings are escaped per RFC
// 8259 §7; the reader is nlohmann's.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace vox::control::ha {

class JsonWriter {
 public:
  // `buffer`: a string whose memory is reused (its text is dropped).
  explicit JsonWriter(std::string buffer = {}, size_t expected = 4096) : text_(std::move(buffer)) {
    text_.clear();
    text_.reserve(expected);
  }

  // The text written; the writer is spent.
  std::string finish() && {
    spill();
    return std::move(text_);
  }

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // A member's name; its value follows. Names are this program's own
  // literals (plain ASCII): written as they are, not escaped.
  JsonWriter& key(std::string_view name) {
    separate();
    put('"');
    put(name);
    put("\":");
    first_ = true;
    return *this;
  }
  JsonWriter& value(std::string_view s) {
    separate();
    quoted(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) {
    separate();
    put(b ? std::string_view("true") : std::string_view("false"));
    return *this;
  }
  template <typename Int>
    requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
  JsonWriter& value(Int n) {
    separate();
    char buf[24];
    put(std::string_view(buf, size_t(std::to_chars(buf, buf + sizeof buf, n).ptr - buf)));
    return *this;
  }
  JsonWriter& null() {
    separate();
    put("null");
    return *this;
  }
  template <typename V>
  JsonWriter& member(std::string_view name, const V& v) {
    return key(name).value(v);
  }

 private:
  JsonWriter& open(char c) {
    separate();
    put(c);
    first_ = true;
    return *this;
  }
  JsonWriter& close(char c) {
    put(c);
    first_ = false;
    return *this;
  }
  void separate() {
    if (!first_) put(',');
    first_ = false;
  }
  // Runs of characters that need no escape are copied whole.
  void quoted(std::string_view s) {
    put('"');
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;  // UTF-8 passes as it is
      put(s.substr(run, i - run));
      run = i + 1;
      if (c >= 0x20) {
        const char escaped[2] = {'\\', char(c)};
        put(std::string_view(escaped, 2));
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        put(std::string_view(escaped, 6));
      }
    }
    put(s.substr(run));
    put('"');
  }

  void put(char c) {
    if (used_ == sizeof buf_) spill();
    buf_[used_++] = c;
  }
  void put(std::string_view s) {
    if (s.size() > sizeof buf_ - used_) {
      spill();
      if (s.size() > sizeof buf_) return void(text_.append(s));
    }
    std::memcpy(buf_ + used_, s.data(), s.size());
    used_ += s.size();
  }
  void spill() {
    text_.append(buf_, used_);
    used_ = 0;
  }

  std::string text_;
  char buf_[512];
  size_t used_ = 0;
  bool first_ = true;  // no comma before the next value
};

}  // namespace vox::control::ha
