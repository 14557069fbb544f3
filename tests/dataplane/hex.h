// Golden packets in tests are written as hex strings; this turns one into
// bytes. Shared by the dataplane tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vox::dataplane::testing {

inline std::vector<uint8_t> from_hex(std::string_view h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

}  // namespace vox::dataplane::testing
