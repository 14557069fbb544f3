// JSON form of NG messages, built on nlohmann-json's SAX interface: the
// handler builds NgValues directly (keeping object key order, which a
// nlohmann DOM would not), enforces DecodeLimits, and never throws.
#include "control/ng_json.h"

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vox::control {

namespace {

using Json = nlohmann::json;

class NgSaxBuilder {
 public:
  explicit NgSaxBuilder(DecodeLimits limits) : limits_(limits) {}

  bool null() { return scalar(NgValue::str({})); }
  bool boolean(bool b) { return scalar(NgValue::integer(b ? 1 : 0)); }
  bool number_integer(Json::number_integer_t i) { return scalar(NgValue::integer(i)); }
  bool number_unsigned(Json::number_unsigned_t u) {
    // Above INT64_MAX: keep the decimal text, like other non-int64 numbers.
    if (u > Json::number_unsigned_t(INT64_MAX)) return scalar(NgValue::str(std::to_string(u)));
    return scalar(NgValue::integer(int64_t(u)));
  }
  bool number_float(Json::number_float_t, const Json::string_t& text) { return scalar(NgValue::str(text)); }
  bool string(Json::string_t& s) { return scalar(NgValue::str(std::move(s))); }
  bool binary(Json::binary_t&) { return fail(DecodeError::kSyntax); }  // not produced by JSON text

  bool start_object(std::size_t) { return open(NgValue::dict()); }
  bool key(Json::string_t& k) {
    pending_keys_.back() = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(NgValue::list()); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    if (error_) return false;
    if (root_done_) {
      error_ = DecodeError::kTrailingData;
    } else if (position > input_size_) {  // the lexer counts the EOF it read
      error_ = DecodeError::kTruncated;
    } else {
      error_ = DecodeError::kSyntax;
    }
    return false;
  }

  void set_input_size(size_t n) { input_size_ = n; }
  std::optional<DecodeError> error() const { return error_; }
  NgValue take_root() { return std::move(root_); }

 private:
  bool fail(DecodeError e) {
    if (!error_) error_ = e;
    return false;
  }
  bool count() {
    if (++elements_ > limits_.max_elements) return fail(DecodeError::kTooLarge);
    return true;
  }
  bool scalar(NgValue v) {
    if (!count()) return false;
    attach(std::move(v));
    return true;
  }
  bool open(NgValue container) {
    if (!count()) return false;
    // nlohmann's parser keeps its own state on the heap, so stopping here
    // bounds both our stack and the NgValue nesting the caller will walk.
    if (int64_t(stack_.size()) >= limits_.max_depth) return fail(DecodeError::kTooDeep);
    stack_.push_back(std::move(container));
    pending_keys_.emplace_back();
    return true;
  }
  bool close() {
    NgValue done = std::move(stack_.back());
    stack_.pop_back();
    pending_keys_.pop_back();
    attach(std::move(done));
    return true;
  }
  void attach(NgValue v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      root_done_ = true;
      return;
    }
    NgValue& top = stack_.back();
    if (top.is_list()) {
      top.as_list().push_back(std::move(v));
    } else {
      top.as_dict().emplace_back(std::move(pending_keys_.back()), std::move(v));
    }
  }

  DecodeLimits limits_;
  size_t input_size_ = 0;
  int64_t elements_ = 0;
  std::vector<NgValue> stack_;
  std::vector<std::string> pending_keys_;
  NgValue root_;
  bool root_done_ = false;
  std::optional<DecodeError> error_;
};

// ordered_json keeps the dict's insertion order in the output.
nlohmann::ordered_json to_json(const NgValue& v) {
  switch (v.type()) {
    case NgValue::Type::String: return v.as_string();
    case NgValue::Type::Integer: return v.as_integer();
    case NgValue::Type::List: {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& e : v.as_list()) arr.push_back(to_json(e));
      return arr;
    }
    case NgValue::Type::Dict: {
      auto obj = nlohmann::ordered_json::object();
      // A duplicate key keeps its first value, the one NgValue::find returns.
      for (const auto& [k, e] : v.as_dict()) obj.emplace(k, to_json(e));
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

Result<NgValue, DecodeError> decode_json(std::string_view in, DecodeLimits limits) {
  NgSaxBuilder builder(limits);
  builder.set_input_size(in.size());
  bool ok = false;
  try {
    ok = Json::sax_parse(in.data(), in.data() + in.size(), &builder);
  } catch (const std::exception&) {
    // The SAX path reports errors through parse_error(); this only guards
    // against a library change so that nothing escapes the decoder.
    ok = false;
  }
  if (!ok) return Err{builder.error().value_or(DecodeError::kSyntax)};
  return builder.take_root();
}

std::string encode_json(const NgValue& v) {
  // replace: a byte string that is not UTF-8 (say, a binary SDP attribute)
  // is emitted with U+FFFD instead of making dump() throw.
  return to_json(v).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace vox::control
