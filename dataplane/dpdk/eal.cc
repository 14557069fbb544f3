// EAL bring-up and teardown; see eal.h.
#include "dataplane/dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <atomic>

namespace vox::dataplane::dpdk {
namespace {

enum class EalState : int { kDown, kStarting, kRunning, kCleanedUp };
std::atomic<EalState> g_state{EalState::kDown};

// EAL may keep pointers into argv for the life of the process, so the
// strings live in storage that is never freed.
struct ArgvStorage {
  std::vector<std::string> strings;
  std::vector<char*> argv;
};

}  // namespace

Result<EalHandle, std::string> init_eal(const std::vector<std::string>& args,
                                        const std::string& program_name) {
  EalState expected = EalState::kDown;
  if (!g_state.compare_exchange_strong(expected, EalState::kStarting)) {
    if (expected == EalState::kCleanedUp) {
      return Err{std::string("EAL was cleaned up; DPDK cannot initialise it again in this process")};
    }
    return Err{std::string("EAL is already initialised in this process")};
  }

  auto* storage = new ArgvStorage;  // deliberately leaked, see ArgvStorage
  storage->strings.reserve(args.size() + 1);
  storage->strings.push_back(program_name);
  storage->strings.insert(storage->strings.end(), args.begin(), args.end());
  for (std::string& s : storage->strings) storage->argv.push_back(s.data());
  storage->argv.push_back(nullptr);
  const int argc = static_cast<int>(storage->strings.size());

  const int parsed = rte_eal_init(argc, storage->argv.data());
  if (parsed < 0) {
    const int err = rte_errno;
    g_state.store(EalState::kDown);
    std::string msg = "rte_eal_init failed: ";
    msg += rte_strerror(err);
    if (err == EACCES) msg += " (needs root or CAP_SYS_ADMIN/CAP_IPC_LOCK)";
    if (err == EALREADY) msg += " (EAL already initialised by someone else)";
    return Err{std::move(msg)};
  }
  if (parsed != argc - 1) {
    // getopt moved what EAL did not consume behind the options it parsed.
    std::string msg = "EAL did not accept argument '";
    msg += storage->argv[static_cast<size_t>(parsed) + 1];
    msg += "'";
    rte_eal_cleanup();
    g_state.store(EalState::kCleanedUp);
    return Err{std::move(msg)};
  }
  g_state.store(EalState::kRunning);
  EalHandle handle;
  handle.active_ = true;
  return handle;
}

bool eal_running() { return g_state.load() == EalState::kRunning; }

EalHandle::EalHandle(EalHandle&& other) noexcept : active_(other.active_) { other.active_ = false; }

EalHandle& EalHandle::operator=(EalHandle&& other) noexcept {
  if (this != &other) {
    cleanup();
    active_ = other.active_;
    other.active_ = false;
  }
  return *this;
}

EalHandle::~EalHandle() { cleanup(); }

void EalHandle::cleanup() {
  if (!active_) return;
  active_ = false;
  rte_eal_cleanup();
  g_state.store(EalState::kCleanedUp);
}

uint32_t EalHandle::lcore_count() const { return active_ ? rte_lcore_count() : 0; }
uint32_t EalHandle::main_lcore() const { return active_ ? rte_get_main_lcore() : 0; }
uint16_t EalHandle::port_count() const { return active_ ? rte_eth_dev_count_avail() : 0; }

}  // namespace vox::dataplane::dpdk
