// voxload --transcode: the audio tables (µ-law speech, Opus packets encoded
// once with libopus), B's answer SDP, and the mapping of the relay's output
// packets to the inputs they came from (voxload_transcode.h explains it).
#include "voxload_transcode.h"

#include <opus/opus.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <random>
#include <sstream>

#include "codecs/g711.h"
#include "base/bytes.h"

namespace voxload {

namespace {

constexpr size_t kFrames = 250;  // 5 s of audio per table, looped
constexpr size_t kRtpHeader = 12;

// Speech-like audio at `rate` Hz (the formula of bench/codec_bench.cc, widened
// to the band the rate allows): a gliding pitch with harmonics, formant-like
// weighting, 4 Hz syllabic envelope and noise. Never silence, which Opus
// codes almost for free.
std::vector<int16_t> speech(int rate, size_t samples) {
  std::vector<int16_t> pcm(samples);
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 200.0);
  const double top = std::min(0.45 * rate, 10000.0);  // highest harmonic
  double phase = 0;
  for (size_t i = 0; i < samples; ++i) {
    const double t = double(i) / rate;
    const double f0 = 120 + 50 * std::sin(2 * std::numbers::pi * 0.8 * t);
    phase += 2 * std::numbers::pi * f0 / rate;
    double s = 0;
    for (int h = 1; h * f0 < top; ++h) {
      const double f = h * f0;  // formant-like peaks near 600, 1700 and 2700 Hz, a weak tail above
      const double w = 1.0 / (1 + std::pow((f - 600) / 250, 2)) + 0.6 / (1 + std::pow((f - 1700) / 400, 2)) +
                       0.3 / (1 + std::pow((f - 2700) / 500, 2)) + (f > 4000 ? 0.02 : 0.0);
      s += w * std::sin(h * phase);
    }
    const double env = 0.5 + 0.5 * std::sin(2 * std::numbers::pi * 4.0 * t);
    pcm[i] = int16_t(std::clamp(4000 * s * env + noise(rng), -32000.0, 32000.0));
  }
  return pcm;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Payload bytes of an RTP packet (CSRCs, extension and padding skipped); -1 if malformed.
long rtp_payload_len(const uint8_t* p, size_t len) {
  size_t off = kRtpHeader + 4 * size_t(p[0] & 0x0f);
  if (off > len) return -1;
  if (p[0] & 0x10) {  // header extension
    if (off + 4 > len) return -1;
    off += 4 + 4 * size_t(vox::load_be16(p + off + 2));
    if (off > len) return -1;
  }
  size_t end = len;
  if (p[0] & 0x20) {  // padding
    const size_t pad = p[len - 1];
    if (pad == 0 || off + pad > len) return -1;
    end -= pad;
  }
  return long(end - off);
}

}  // namespace

std::optional<OpusOffer> parse_opus_offer(std::string_view sdp) {
  OpusOffer o;
  bool in_audio = false;
  while (!sdp.empty()) {
    const size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == std::string_view::npos ? std::string_view() : sdp.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("m=")) {
      if (in_audio) break;  // only the first audio stream
      in_audio = line.starts_with("m=audio ");
      continue;
    }
    if (!in_audio || !line.starts_with("a=rtpmap:")) continue;
    line.remove_prefix(9);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    const int pt = std::atoi(std::string(line.substr(0, sp)).c_str());
    const std::string enc = lower(line.substr(sp + 1));
    if (o.opus_pt < 0 && (enc == "opus/48000/2" || enc == "opus/48000")) o.opus_pt = pt;
    if (o.te_pt < 0 && enc == "telephone-event/48000") o.te_pt = pt;
  }
  if (o.opus_pt < 0 || o.opus_pt > 127) return std::nullopt;
  return o;
}

std::optional<std::string> TranscodeLoad::init(const TranscodeOptions& opt, size_t streams) {
  opt_ = opt;
  streams_.assign(streams, Stream{});

  // A's µ-law table.
  const auto pcm8 = speech(8000, kFrames * kPcmuFrame);
  pcmu_.resize(pcm8.size());
  vox::codecs::ulaw_encode(pcm8.data(), pcmu_.data(), pcm8.size());

  // B's Opus packets: mono, VOIP, the given bitrate, in-band FEC as the
  // relay's useinbandfec=1 asks (LBRR only with an expected loss > 0).
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(opt.opus_rate, 1, OPUS_APPLICATION_VOIP, &err);
  if (!enc || err != OPUS_OK) return std::string("opus_encoder_create: ") + opus_strerror(err);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(opt.opus_bitrate));
  opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(10));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
  const size_t frame = size_t(opt.opus_rate) / 50;
  const auto pcm = speech(opt.opus_rate, kFrames * frame);
  opus_.clear();
  max_opus_ = 0;
  std::vector<uint8_t> buf(1500);
  for (size_t f = 0; f < kFrames; ++f) {
    const int n = opus_encode(enc, pcm.data() + f * frame, int(frame), buf.data(), int(buf.size()));
    if (n < 0) {
      opus_encoder_destroy(enc);
      return std::string("opus_encode: ") + opus_strerror(n);
    }
    opus_.emplace_back(buf.begin(), buf.begin() + n);
    max_opus_ = std::max(max_opus_, size_t(n));
  }
  opus_encoder_destroy(enc);
  return std::nullopt;
}

vox::control::NgValue TranscodeLoad::offer_codec_dict() {
  auto codec = vox::control::NgValue::dict();
  auto list = vox::control::NgValue::list();
  list.push(vox::control::NgValue::str("opus"));
  codec.set("transcode", std::move(list));
  return codec;
}

std::string sdp_session_lines(const vox::IpAddr& ip, uint64_t session_id) {
  const char* family = ip.is_v4() ? "IP4" : "IP6";
  const std::string addr = ip.to_string();
  return "v=0\r\no=voxload " + std::to_string(session_id) + " 1 IN " + family + ' ' + addr +
         "\r\ns=voxload\r\nc=IN " + family + ' ' + addr + "\r\nt=0 0\r\n";
}

std::optional<std::string> TranscodeLoad::answer_sdp(uint32_t call, std::string_view offer_to_b, const vox::IpAddr& ip,
                                                     uint16_t port, uint64_t session_id, std::string* sdp_out) {
  const auto offer = parse_opus_offer(offer_to_b);
  if (!offer) return std::string("the relay's offer has no opus/48000/2 rtpmap");
  streams_[2 * call].send_pt = 0;  // A: PCMU
  streams_[2 * call].rx_pt = uint8_t(offer->opus_pt);
  streams_[2 * call + 1].send_pt = uint8_t(offer->opus_pt);
  streams_[2 * call + 1].rx_pt = 0;

  std::ostringstream s;
  s << sdp_session_lines(ip, session_id)
    << "m=audio " << port << " RTP/AVP " << offer->opus_pt;
  if (offer->te_pt >= 0) s << ' ' << offer->te_pt;
  s << "\r\n"
    << "a=rtpmap:" << offer->opus_pt << " opus/48000/2\r\n"
    << "a=fmtp:" << offer->opus_pt << ' ' << (opt_.answer_fec ? "useinbandfec=1" : "useinbandfec=0")
    << (opt_.opus_rate == 8000 ? ";maxplaybackrate=8000;sprop-maxcapturerate=8000" : "") << "\r\n";
  if (offer->te_pt >= 0)
    s << "a=rtpmap:" << offer->te_pt << " telephone-event/48000\r\n"
      << "a=fmtp:" << offer->te_pt << " 0-16\r\n";
  s << "a=ptime:20\r\n"
    << "a=sendrecv\r\n";
  *sdp_out = s.str();
  return std::nullopt;
}

size_t TranscodeLoad::write_payload(uint32_t s, uint32_t counter, uint8_t* out) const {
  const size_t f = counter % kFrames;
  if (s & 1) {
    const auto& pkt = opus_[f];
    std::memcpy(out, pkt.data(), pkt.size());
    return pkt.size();
  }
  std::memcpy(out, &pcmu_[f * kPcmuFrame], kPcmuFrame);
  return kPcmuFrame;
}

size_t TranscodeLoad::max_packet_size() const { return kRtpHeader + std::max(kPcmuFrame, max_opus_); }

TranscodeLoad::RxResult TranscodeLoad::classify(uint32_t s, const uint8_t* p, size_t len, int64_t rx_mono_ns,
                                                bool warmup) {
  if (len < kRtpHeader || (p[0] >> 6) != 2) return {Rx::kNotRtp};
  if (p[1] >= 192 && p[1] <= 223) return {Rx::kRtcp};  // RFC 5761 §4
  Stream& st = streams_[s];
  if ((p[1] & 0x7f) != st.rx_pt) return {Rx::kWrongPt};
  const long payload = rtp_payload_len(p, len);
  if (payload < 0) return {Rx::kNotRtp};
  // Output of stream s: Opus toward B (even s), PCMU toward A (odd s).
  const bool to_a = s & 1;
  if (to_a && payload != long(kPcmuFrame)) return {Rx::kWrongSize};
  const uint32_t ts = vox::load_be32(p + 4);
  if (st.built == 0) return {Rx::kUnmatched};
  const uint32_t newest = st.built - 1;
  const uint32_t oldest = st.built > kHistory ? st.built - kHistory : 0;
  // The newest input of this stream sent before rx_mono_ns. A send stamp is
  // the predicted moment inside its io_uring submission (voxload.cc), a few
  // µs off at most: 20 µs of slack keeps that from moving an anchor.
  auto newest_before = [&] {
    uint32_t k = newest;
    while (k > oldest && st.stamps[k % kHistory] > rx_mono_ns + 20'000) --k;
    return k;
  };
  const int64_t step = to_a ? 160 : 960;
  if (!st.anchored) {
    st.anchored = true;
    st.anchor_counter = newest_before();
    st.anchor_ts = ts;
  }
  const int64_t diff = int32_t(ts - st.anchor_ts);
  const int64_t frames = diff >= 0 ? (diff + step / 2) / step : -((-diff + step / 2) / step);
  int64_t k = int64_t(st.anchor_counter) + frames;
  RxResult r{Rx::kOk};
  if (warmup && k >= 0) {
    const int64_t bound = newest_before();
    if (k > bound && int64_t(st.anchor_counter) >= k - bound) {  // it cannot come from an input not yet sent
      st.anchor_shift += uint32_t(k - bound);
      st.anchor_counter -= uint32_t(k - bound);
      k = bound;
      r.anchor_moved = true;
    }
  }
  if (k < int64_t(oldest)) return {Rx::kUnmatched};
  if (k > int64_t(newest) && (k - newest > 50 || newest == 0)) return {Rx::kUnmatched};
  r.counter = uint32_t(k);
  if (k <= int64_t(newest)) {
    r.send_ns = st.stamps[size_t(k) % kHistory];
  } else {  // past the newest input: its scheduled send time, from the stream's interval
    const int64_t interval = st.stamps[newest % kHistory] - st.stamps[(newest - 1) % kHistory];
    r.send_ns = st.stamps[newest % kHistory] + (k - newest) * interval;
  }
  // Input k went out with sequence number seq0 + k.
  const uint16_t lag = uint16_t(uint16_t(st.seq0 + uint32_t(k)) - vox::load_be16(p + 2));
  if (lag <= kMaxSeqLag && k - lag >= int64_t(oldest) && k - lag <= int64_t(newest)) {
    r.seq_lag = lag;
    r.seq_send_ns = st.stamps[size_t(k - lag) % kHistory];
  }
  return r;
}

size_t TranscodeLoad::anchored_streams() const {
  return size_t(std::count_if(streams_.begin(), streams_.end(), [](const Stream& s) { return s.anchored; }));
}

uint64_t TranscodeLoad::anchor_shift_sum() const {
  uint64_t sum = 0;
  for (const auto& s : streams_) sum += s.anchor_shift;
  return sum;
}

}  // namespace voxload
