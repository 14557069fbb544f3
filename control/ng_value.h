// The value model of NG protocol messages: byte strings, integers, lists and
// dictionaries, as carried by bencode (or JSON). Dictionaries keep insertion
// order (keys are not guaranteed sorted on the wire) and look keys up with
// rtpengine's spelling rules: ' ', '-' and '_' are interchangeable, so
// "transport protocol" == "transport-protocol".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/endpoint.h"

namespace vox::control {

class NgValue {
 public:
  enum class Type : uint8_t { String, Integer, List, Dict };
  using List = std::vector<NgValue>;
  using Dict = std::vector<std::pair<std::string, NgValue>>;

  NgValue() : v_(std::string()) {}
  static NgValue str(std::string s) { return NgValue(std::move(s)); }
  static NgValue integer(int64_t i) { return NgValue(i); }
  static NgValue list() { return NgValue(List{}); }
  static NgValue dict() { return NgValue(Dict{}); }

  Type type() const { return Type(v_.index()); }
  bool is_string() const { return type() == Type::String; }
  bool is_integer() const { return type() == Type::Integer; }
  bool is_list() const { return type() == Type::List; }
  bool is_dict() const { return type() == Type::Dict; }

  // Accessors assert the type; check with is_*() first.
  const std::string& as_string() const { return std::get<std::string>(v_); }
  int64_t as_integer() const { return std::get<int64_t>(v_); }
  const List& as_list() const { return std::get<List>(v_); }
  List& as_list() { return std::get<List>(v_); }
  const Dict& as_dict() const { return std::get<Dict>(v_); }
  Dict& as_dict() { return std::get<Dict>(v_); }

  // Dictionary access (nullptr / nullopt when not a dict or key absent).
  const NgValue* find(std::string_view key) const;
  std::optional<std::string_view> find_string(std::string_view key) const;
  // A string, or an integer rendered as decimal (proxies send either).
  std::optional<std::string> find_scalar(std::string_view key) const;
  // Strings of a list value, or of a single string value; empty when absent.
  std::vector<std::string_view> find_strings(std::string_view key) const;
  // Sets key (replacing an existing one with the same normalized spelling).
  NgValue& set(std::string key, NgValue value);
  NgValue& set(std::string key, std::string value) { return set(std::move(key), str(std::move(value))); }
  NgValue& set(std::string key, const char* value) { return set(std::move(key), str(value)); }
  NgValue& set(std::string key, int64_t value) { return set(std::move(key), integer(value)); }
  // List append.
  NgValue& push(NgValue value);

  bool operator==(const NgValue& o) const { return v_ == o.v_; }

 private:
  explicit NgValue(std::string s) : v_(std::move(s)) {}
  explicit NgValue(int64_t i) : v_(i) {}
  explicit NgValue(List l) : v_(std::move(l)) {}
  explicit NgValue(Dict d) : v_(std::move(d)) {}
  std::variant<std::string, int64_t, List, Dict> v_;
};

// {family: IPv4|IPv6, address, port}: an endpoint as rtpengine's replies
// write it; {} for one not known yet (no address, no port).
NgValue endpoint_value(const Endpoint& e);

// True when two keys or flag names are the same under NG spelling rules:
// ASCII case-insensitive, and ' ', '-', '_' all equal.
bool ng_name_equal(std::string_view a, std::string_view b);

}  // namespace vox::control
