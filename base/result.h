// Errors as values: Result<T, E> holds either a T or an error code E.
// std::expected is not usable with both g++ 12 and clang 14 (see STYLE.md),
// so this is the small in-house equivalent.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace vox {

template <class E>
struct Err {
  E code;
};
template <class E>
Err(E) -> Err<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Err<E> e) : v_(std::in_place_index<1>, e.code) {}           // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  E error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace vox
