// In-band DTMF on 8 kHz PCM, both ways, over SpanDSP: a detector that reports
// each digit's start and end with sample positions (so a transcoder can turn
// in-band tones into RFC 4733 events with the right timestamp and duration),
// and a generator of continuous tones for a side that has no telephone-event.
// SpanDSP's states are opaque and stay behind pointers, out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace vox::codecs {

struct DtmfEdge {
  char digit;         // '0'-'9', '*', '#', 'A'-'D'
  bool start;         // true: the tone began; false: it ended
  int8_t level_dbm0;  // power measured when the start was confirmed; 0 on end
  uint64_t sample;    // estimated position of the edge among the samples fed
};

class DtmfDetector {
 public:
  // SpanDSP runs its Goertzel filters over 102-sample blocks and confirms a
  // change after two agreeing blocks, so an edge is reported about two blocks
  // after it happened; `sample` is the report position minus that latency.
  static constexpr uint32_t kBlock = 102;
  static constexpr uint32_t kLatency = 2 * kBlock;
  // Edges one call can produce: a block reports at most one change, which
  // can be "digit B ends and C starts" (two edges).
  static constexpr size_t max_edges(size_t n) { return 2 * (n / kBlock + 1); }

  DtmfDetector();
  ~DtmfDetector();
  DtmfDetector(DtmfDetector&&) noexcept;
  DtmfDetector& operator=(DtmfDetector&&) noexcept;

  // Feeds n samples; writes the edges completed inside them to `out`, in
  // order, and returns how many (edges beyond out.size() are lost, so size
  // it with max_edges(n)).
  size_t process(const int16_t* pcm, size_t n, std::span<DtmfEdge> out);
  uint64_t position() const;   // samples fed so far
  char current_digit() const;  // digit in progress, '\0' if none
  void reset();

  static size_t state_size();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

class DtmfGenerator {
 public:
  // Upper bound of one tone; an event still running then is cut.
  static constexpr int kMaxToneMs = 60'000;

  DtmfGenerator();
  ~DtmfGenerator();
  DtmfGenerator(DtmfGenerator&&) noexcept;
  DtmfGenerator& operator=(DtmfGenerator&&) noexcept;

  // Starts a continuous dual tone for `digit`, low group at level_dbm0 and
  // the high group 2 dB above (the usual positive twist). False if `digit`
  // is not a DTMF digit.
  bool start(char digit, int level_dbm0);
  void stop();
  bool active() const;
  // Writes n samples of the current tone; zeros when none is active.
  void generate(int16_t* pcm, size_t n);

  static size_t state_size();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace vox::codecs
