// DtmfDetector over SpanDSP dtmf_rx with its realtime callback, DtmfGenerator
// over dtmf_tx with an on-time long enough to act as "until stopped".
// spandsp.h is not used: it drags in <tiffio.h> for the fax modules; the
// individual headers below are all the DTMF API needs.
#include "codecs/dtmf.h"

#include <malloc.h>

// SpanDSP's headers need telephony.h (SPAN_DECLARE) first.
// clang-format off
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
// clang-format on

#include <algorithm>
#include <cstring>

namespace vox::codecs {

namespace {

// SpanDSP builds its filter and tone tables on the first *_init call behind
// a plain static flag; doing that once here, under a C++ magic static, keeps
// workers that create their first transcoders concurrently out of the race.
void init_spandsp_tables_once() {
  static const bool done = [] {
    dtmf_rx_free(dtmf_rx_init(nullptr, nullptr, nullptr));
    dtmf_tx_free(dtmf_tx_init(nullptr));
    return true;
  }();
  (void)done;
}

constexpr bool is_dtmf_digit(char c) {
  return c != '\0' && std::strchr("0123456789*#ABCD", c) != nullptr;
}

}  // namespace

// --- detector ---------------------------------------------------------------

struct DtmfDetector::State {
  dtmf_rx_state_t* rx = nullptr;
  uint64_t fed = 0;        // samples fed
  uint64_t report_at = 0;  // end of the piece being fed: where a callback's block ends
  char digit = '\0';
  std::span<DtmfEdge> out;
  size_t n_out = 0;

  void push(const DtmfEdge& e) {
    if (n_out < out.size()) out[n_out++] = e;
  }
  // code: the digit now present ('\0' for none); level in dBm0.
  static void on_change(void* user, int code, int level, int /*duration*/) {
    auto* s = static_cast<State*>(user);
    const uint64_t at = s->report_at > kLatency ? s->report_at - kLatency : 0;
    // SpanDSP goes straight from digit B to digit C without a "no tone"
    // report: close B first so every start has its end.
    if (s->digit != '\0') s->push({s->digit, false, 0, at});
    s->digit = char(code);
    if (code != 0) s->push({char(code), true, int8_t(std::clamp(level, -99, 0)), at});
  }
};

DtmfDetector::DtmfDetector() : s_(std::make_unique<State>()) {
  init_spandsp_tables_once();
  s_->rx = dtmf_rx_init(nullptr, nullptr, nullptr);
  dtmf_rx_set_realtime_callback(s_->rx, &State::on_change, s_.get());
}
DtmfDetector::~DtmfDetector() {
  if (s_ && s_->rx) dtmf_rx_free(s_->rx);
}
DtmfDetector::DtmfDetector(DtmfDetector&&) noexcept = default;
DtmfDetector& DtmfDetector::operator=(DtmfDetector&& o) noexcept {
  if (this != &o) {
    if (s_ && s_->rx) dtmf_rx_free(s_->rx);
    s_ = std::move(o.s_);
  }
  return *this;
}

size_t DtmfDetector::process(const int16_t* pcm, size_t n, std::span<DtmfEdge> out) {
  State& s = *s_;
  s.out = out;
  s.n_out = 0;
  // Feed up to each block boundary so a callback's block end is known.
  while (n > 0) {
    const size_t piece = std::min<size_t>(n, kBlock - s.fed % kBlock);
    s.report_at = s.fed + piece;
    dtmf_rx(s.rx, pcm, int(piece));
    s.fed += piece;
    pcm += piece;
    n -= piece;
  }
  s.out = {};
  return s.n_out;
}

uint64_t DtmfDetector::position() const {
  return s_->fed;
}
char DtmfDetector::current_digit() const {
  return s_->digit;
}

void DtmfDetector::reset() {
  dtmf_rx_init(s_->rx, nullptr, nullptr);  // reinitialises in place, no allocation
  dtmf_rx_set_realtime_callback(s_->rx, &State::on_change, s_.get());
  s_->fed = 0;
  s_->digit = '\0';
}

size_t DtmfDetector::state_size() {
  // dtmf_rx_state_t is opaque in SpanDSP's public API: count the block it
  // allocated (glibc) plus our wrapper.
  init_spandsp_tables_once();
  dtmf_rx_state_t* rx = dtmf_rx_init(nullptr, nullptr, nullptr);
  const size_t n = malloc_usable_size(rx);
  dtmf_rx_free(rx);
  return n + sizeof(State);
}

// --- generator --------------------------------------------------------------

struct DtmfGenerator::State {
  dtmf_tx_state_t* tx = nullptr;
  bool active = false;
};

DtmfGenerator::DtmfGenerator() : s_(std::make_unique<State>()) {
  init_spandsp_tables_once();
  s_->tx = dtmf_tx_init(nullptr);
}
DtmfGenerator::~DtmfGenerator() {
  if (s_ && s_->tx) dtmf_tx_free(s_->tx);
}
DtmfGenerator::DtmfGenerator(DtmfGenerator&&) noexcept = default;
DtmfGenerator& DtmfGenerator::operator=(DtmfGenerator&& o) noexcept {
  if (this != &o) {
    if (s_ && s_->tx) dtmf_tx_free(s_->tx);
    s_ = std::move(o.s_);
  }
  return *this;
}

bool DtmfGenerator::start(char digit, int level_dbm0) {
  if (!is_dtmf_digit(digit)) return false;
  dtmf_tx_init(s_->tx);  // in place: drops any tone in progress
  dtmf_tx_set_level(s_->tx, level_dbm0, 2);
  dtmf_tx_set_timing(s_->tx, kMaxToneMs, 0);
  dtmf_tx_put(s_->tx, &digit, 1);
  s_->active = true;
  return true;
}

void DtmfGenerator::stop() {
  if (s_->active) dtmf_tx_init(s_->tx);
  s_->active = false;
}

bool DtmfGenerator::active() const {
  return s_->active;
}

void DtmfGenerator::generate(int16_t* pcm, size_t n) {
  size_t done = 0;
  if (s_->active) {
    done = size_t(std::max(0, dtmf_tx(s_->tx, pcm, int(n))));
    if (done < n) s_->active = false;  // kMaxToneMs reached
  }
  std::fill(pcm + done, pcm + n, int16_t{0});
}

size_t DtmfGenerator::state_size() {
  init_spandsp_tables_once();
  dtmf_tx_state_t* tx = dtmf_tx_init(nullptr);
  const size_t n = malloc_usable_size(tx);
  dtmf_tx_free(tx);
  return n + sizeof(State);
}

}  // namespace vox::codecs
