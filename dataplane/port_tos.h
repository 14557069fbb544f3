// Per-call TOS (NG "TOS"): the TOS / traffic class octet of what leaves a
// local port, for a backend that writes the IP header itself (DPDK; the
// socket backend sets it on the port's socket instead). The control thread
// writes a port's entry; workers read it when a packet leaves that port.
// An entry of 0 is "the backend's --tos"; any call's own value, 0 too, is
// kept as value + 0x100.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "dataplane/flow.h"

namespace vox::dataplane {

class PortTos {
 public:
  explicit PortTos(size_t interfaces)
      : slots_(interfaces << 16), tos_(new std::atomic<uint16_t>[slots_]) {
    for (size_t k = 0; k < slots_; ++k) tos_[k].store(0, std::memory_order_relaxed);
  }

  // Control thread. nullopt: back to the default.
  void set(LocalKey key, std::optional<uint8_t> tos) {
    if (key >= slots_) return;
    const uint16_t v = tos ? uint16_t(0x100 | *tos) : 0;
    const uint16_t old = tos_[key].exchange(v, std::memory_order_relaxed);
    if (v && !old) own_.fetch_add(1, std::memory_order_relaxed);
    if (!v && old) own_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Workers: whether any port has a TOS of its own (read once per burst),
  // and the port's own TOS, if any.
  bool any() const { return own_.load(std::memory_order_relaxed) != 0; }
  std::optional<uint8_t> own(LocalKey key) const {
    const uint16_t v = key < slots_ ? tos_[key].load(std::memory_order_relaxed) : 0;
    if (!v) return std::nullopt;
    return uint8_t(v);
  }

 private:
  size_t slots_;
  std::unique_ptr<std::atomic<uint16_t>[]> tos_;
  std::atomic<uint32_t> own_{0};  // ports with a TOS of their own
};

}  // namespace vox::dataplane
