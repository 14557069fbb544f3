// Names of enum values, one table per enum (as VPP's error strings): the
// enum lists its values, a constexpr table beside it gives each its name,
// and a static_assert proves the table names every value, in order. So
// adding a value without its name does not compile, and no switch beside a
// hand-kept list can drift.
//
//   enum class Colour : uint8_t { kRed, kGreen, kCount };
//   inline constexpr EnumNames<Colour> kColourNames = {{
//       {Colour::kRed, "red"}, {Colour::kGreen, "green"}}};
//   static_assert(kColourNames.complete());
//   inline const char* to_string(Colour c) { return kColourNames[c]; }
#pragma once

#include <cstddef>

namespace vox {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

// E must end in kCount (the number of values, which start at 0).
template <class E, size_t N = size_t(E::kCount)>
struct EnumNames {
  EnumName<E> entries[N];

  // Every value once, at its own index.
  constexpr bool complete() const {
    for (size_t i = 0; i < N; ++i)
      if (size_t(entries[i].value) != i || entries[i].name == nullptr) return false;
    return true;
  }
  constexpr const char* operator[](E e) const {
    return size_t(e) < N ? entries[size_t(e)].name : "?";
  }
  static constexpr size_t size() { return N; }
};

}  // namespace vox
