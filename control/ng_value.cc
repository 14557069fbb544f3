// NgValue's dictionary and list helpers, and NG name matching (rtpengine's
// rule: case-insensitive, with space, hyphen and underscore equal).
#include "control/ng_value.h"

namespace vox::control {

namespace {
char fold(char c) {
  if (c == ' ' || c == '_') return '-';
  if (c >= 'A' && c <= 'Z') return char(c - 'A' + 'a');
  return c;
}
}  // namespace

bool ng_name_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

const NgValue* NgValue::find(std::string_view key) const {
  if (!is_dict()) return nullptr;
  for (const auto& [k, v] : as_dict())
    if (ng_name_equal(k, key)) return &v;
  return nullptr;
}

std::optional<std::string_view> NgValue::find_string(std::string_view key) const {
  const NgValue* v = find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->as_string());
}

std::optional<std::string> NgValue::find_scalar(std::string_view key) const {
  const NgValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->as_string();
  if (v->is_integer()) return std::to_string(v->as_integer());
  return std::nullopt;
}

std::vector<std::string_view> NgValue::find_strings(std::string_view key) const {
  std::vector<std::string_view> out;
  const NgValue* v = find(key);
  if (!v) return out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
  } else if (v->is_list()) {
    for (const auto& e : v->as_list())
      if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

NgValue& NgValue::set(std::string key, NgValue value) {
  if (!is_dict()) v_ = Dict{};
  auto& d = as_dict();
  for (auto& [k, v] : d)
    if (ng_name_equal(k, key)) return v = std::move(value);
  d.emplace_back(std::move(key), std::move(value));
  return d.back().second;
}

NgValue& NgValue::push(NgValue value) {
  if (!is_list()) v_ = List{};
  auto& l = as_list();
  l.push_back(std::move(value));
  return l.back();
}

NgValue endpoint_value(const Endpoint& e) {
  NgValue v = NgValue::dict();
  // Not known yet (a party that has not sent its SDP): an empty dict, as
  // rtpengine gives.
  if (e.port == 0 && e.addr.is_unspecified()) return v;
  v.set("family", e.addr.is_v4() ? "IPv4" : "IPv6");
  v.set("address", e.addr.to_string());
  v.set("port", int64_t(e.port));
  return v;
}

}  // namespace vox::control
