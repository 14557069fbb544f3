// SDES (RFC 4568): a=crypto parsing and rendering, base64 (RFC 4648 §4),
// NG SDES flags, CSPRNG keys, and the offer/answer choice of a crypto line.
// Every check cites the RFC 4568 section (§9.2 is the ABNF) it comes from.
#include "control/sdes.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>

namespace vox::control {

using dataplane::kSrtpMaxKeySaltLength;
using dataplane::kSrtpMaxMkiLength;
using dataplane::kSrtpSuites;
using dataplane::srtp_suite_from_name;
using dataplane::srtp_suite_info;

namespace {

constexpr auto npos = std::string_view::npos;
constexpr uint64_t kMaxLifetime = uint64_t(1) << 48;  // §6.2.1: SRTP key limit of every suite here

// --- base64 (RFC 4648 §4) ----------------------------------------------------

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

constexpr int kNotBase64 = -1;
constexpr int kTooLong = -2;

// Decodes into `out`; padding optional (§6.1 does not settle it, and both
// forms are seen). Returns the length, kNotBase64, or kTooLong when valid
// base64 would not fit `out`.
int base64_decode(std::string_view in, std::span<uint8_t> out) {
  size_t pad = 0;
  while (!in.empty() && in.back() == '=' && pad < 2) in.remove_suffix(1), ++pad;
  if (pad > 0 && (in.size() + pad) % 4 != 0) return kNotBase64;  // padding completes a quantum
  if (in.size() % 4 == 1) return kNotBase64;                     // 6 bits cannot end a byte
  for (char c : in)
    if (base64_value(c) < 0) return kNotBase64;
  if (in.size() * 3 / 4 > out.size()) return kTooLong;
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    acc = acc << 6 | uint32_t(base64_value(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = uint8_t(acc >> bits);
    }
  }
  return int(n);
}

std::string base64_encode(std::span<const uint8_t> in, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t(in[i]) << 16 | uint32_t(in[i + 1]) << 8 | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kBase64[(v >> s) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(in[i]) << 16 | (rest == 2 ? uint32_t(in[i + 1]) << 8 : 0);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    if (rest == 2) out += kBase64[(v >> 6) & 63];
    if (pad) out.append(3 - rest, '=');
  }
  return out;
}

// --- small lexing helpers ------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// 1..max_digits decimal digits, value <= max.
std::optional<uint64_t> decimal(std::string_view s, size_t max_digits, uint64_t max) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// lifetime = ["2^"] 1*(DIGIT) (§9.2), at most the suite's 2^48 (§6.2.1).
Result<uint64_t, SdesError> parse_lifetime(std::string_view s) {
  if (s.starts_with("2^")) {
    auto e = decimal(s.substr(2), 2, 48);
    if (!e) return Err{SdesError::kBadLifetime};
    return uint64_t(1) << *e;
  }
  auto v = decimal(s, 15, kMaxLifetime);
  if (!v || *v == 0) return Err{SdesError::kBadLifetime};
  return *v;
}

// mki = mki-value ":" mki-length; mki-value = 1*DIGIT; mki-length = 1*3DIGIT,
// 1..128 (§9.2). The value must fit the length (RFC 3711 §3.1: it is sent in
// exactly that many octets).
Result<std::pair<uint64_t, uint8_t>, SdesError> parse_mki(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == npos) return Err{SdesError::kBadMki};
  auto value = decimal(s.substr(0, colon), 20, UINT64_MAX);
  auto length = decimal(s.substr(colon + 1), 3, kSrtpMaxMkiLength);
  if (!value || !length || *length == 0) return Err{SdesError::kBadMki};
  if (*length < 8 && *value >> (8 * *length) != 0) return Err{SdesError::kBadMki};
  return std::pair{*value, uint8_t(*length)};
}

// key-params = key-method ":" key-info; srtp-key-info = key-salt ["|"
// lifetime] ["|" mki] (§9.2, §6.1). key-method is an ABNF literal:
// case-insensitive.
Result<SdesCrypto, SdesError> parse_key_params(std::string_view kp, SdesCrypto c) {
  size_t colon = kp.find(':');
  if (colon == npos) return Err{SdesError::kSyntax};
  if (!iequals(kp.substr(0, colon), "inline")) return Err{SdesError::kBadKeyMethod};
  std::string_view info = kp.substr(colon + 1);
  std::string_view fields[4];
  size_t n = 0;
  while (n < 4) {
    size_t bar = info.find('|');
    fields[n++] = info.substr(0, bar);
    if (bar == npos) break;
    info = info.substr(bar + 1);
  }
  if (n == 4 || fields[0].empty()) return Err{SdesError::kSyntax};

  int len = base64_decode(fields[0], c.key.key_salt);
  if (len == kNotBase64) return Err{SdesError::kBadBase64};
  const auto& suite = srtp_suite_info(c.key.suite);
  if (len != suite.key_length + suite.salt_length) return Err{SdesError::kBadKeyLength};
  c.key.key_salt_length = uint8_t(len);

  for (size_t i = 1; i < n; ++i) {
    if (fields[i].find(':') != npos) {  // MKI, always last
      if (i != n - 1) return Err{SdesError::kSyntax};
      auto mki = parse_mki(fields[i]);
      if (!mki) return Err{mki.error()};
      c.key.mki_value = mki->first;
      c.key.mki_length = mki->second;
    } else {
      if (i != 1) return Err{SdesError::kSyntax};  // lifetime comes first
      auto lt = parse_lifetime(fields[i]);
      if (!lt) return Err{lt.error()};
      c.lifetime = *lt;
    }
  }
  return c;
}

// srtp-session-param (§9.2, §6.3): records one parameter in `c`; an error
// says why the line cannot be used.
Result<bool, SdesError> apply_session_param(std::string_view p, SdesCrypto& c) {
  auto& f = c.key.flags;
  if (p == "UNENCRYPTED_SRTP") return f.unencrypted_srtp = true;
  if (p == "UNENCRYPTED_SRTCP") return f.unencrypted_srtcp = true;
  if (p == "UNAUTHENTICATED_SRTP") return f.unauthenticated_srtp = true;
  if (p.starts_with("KDR=")) {  // §6.3.1: 0..24; libsrtp2 implements only 0 (no re-derivation)
    auto v = decimal(p.substr(4), 2, 24);
    if (!v) return Err{SdesError::kBadSessionParam};
    if (*v != 0) return Err{SdesError::kUnsupportedParam};
  } else if (p.starts_with("WSH=")) {  // §6.3.6: declarative hint, at least 64
    auto v = decimal(p.substr(4), 9, UINT32_MAX);
    if (!v || *v < 64) return Err{SdesError::kBadSessionParam};
  } else if (p.starts_with("FEC_ORDER=")) {  // §6.3.4: matters only with FEC
    std::string_view v = p.substr(10);
    if (v != "FEC_SRTP" && v != "SRTP_FEC") return Err{SdesError::kBadSessionParam};
  } else if (p.starts_with("FEC_KEY=")) {  // §6.3.5: a key for FEC streams: none here
    return Err{SdesError::kUnsupportedParam};
  } else if (!p.starts_with("-")) {
    // §6.3.7: an unknown parameter makes the line unusable unless it starts
    // with "-" (then it may be ignored).
    return Err{SdesError::kUnsupportedParam};
  }
  c.other_params.emplace_back(p);
  return true;
}

// Flags voxrelay's SRTP (libsrtp2) cannot honour with the suite: GCM always
// encrypts and authenticates SRTP (RFC 7714 §8), and a stream with neither
// service is not SRTP.
bool flags_supported(SrtpSuite suite, const SrtpSessionFlags& f) {
  if (f.unencrypted_srtp && f.unauthenticated_srtp) return false;
  if (srtp_suite_info(suite).aead && (f.unencrypted_srtp || f.unauthenticated_srtp)) return false;
  return true;
}

std::string render_lifetime(uint64_t v) {
  if (v != 0 && (v & (v - 1)) == 0) return "2^" + std::to_string(std::countr_zero(v));
  return std::to_string(v);
}

uint8_t suite_bit(SrtpSuite s) {
  return uint8_t(1u << unsigned(s));
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = char(x - 32);
    if (y >= 'a' && y <= 'z') y = char(y - 32);
    if (x != y) return false;
  }
  return true;
}

// crypto-attribute = "a=crypto:" tag 1*WSP crypto-suite 1*WSP key-params
//                    *(1*WSP session-param)   (§9.1)
Result<SdesCrypto, SdesError> parse_sdes_crypto(std::string_view value) {
  if (value.size() > 4096) return Err{SdesError::kSyntax};  // far above any real line
  auto w = words(value);
  if (w.size() < 3) return Err{SdesError::kSyntax};
  SdesCrypto c;
  auto tag = decimal(w[0], 9, 999999999);  // tag = 1*9DIGIT
  if (!tag) return Err{SdesError::kBadTag};
  c.tag = uint32_t(*tag);
  auto suite = srtp_suite_from_name(w[1]);
  if (!suite) return Err{SdesError::kUnknownSuite};
  c.key.suite = *suite;
  // key-params = key-param *(";" key-param): several only as an MKI key list.
  if (w[2].find(';') != npos) {
    auto first = parse_key_params(w[2].substr(0, w[2].find(';')), c);
    if (!first) return Err{first.error()};
    return Err{SdesError::kMultipleKeys};
  }
  auto parsed = parse_key_params(w[2], std::move(c));
  if (!parsed) return Err{parsed.error()};
  SdesCrypto out = std::move(*parsed);
  for (size_t i = 3; i < w.size(); ++i) {
    auto r = apply_session_param(w[i], out);
    if (!r) return Err{r.error()};
  }
  if (!flags_supported(out.key.suite, out.key.flags)) return Err{SdesError::kUnsupportedParam};
  return out;
}

std::string render_sdes_crypto(const SdesCrypto& c, SdesRenderOptions opt) {
  const auto& info = srtp_suite_info(c.key.suite);
  std::string out = std::to_string(c.tag);
  out += ' ';
  out += info.name;
  out += " inline:";
  out += base64_encode({c.key.key_salt.data(), c.key.key_salt_length}, opt.pad);
  if (c.lifetime) out += "|" + render_lifetime(*c.lifetime);
  if (c.key.mki_length)
    out += "|" + std::to_string(c.key.mki_value) + ":" + std::to_string(c.key.mki_length);
  if (c.key.flags.unencrypted_srtcp) out += " UNENCRYPTED_SRTCP";
  if (c.key.flags.unencrypted_srtp) out += " UNENCRYPTED_SRTP";
  if (c.key.flags.unauthenticated_srtp) out += " UNAUTHENTICATED_SRTP";
  for (const auto& p : c.other_params) out += " " + p;
  return out;
}

// --- NG flags ------------------------------------------------------------------

namespace {

// "A;B;C" (rtpengine's separator; a trailing one is allowed): the suites
// voxrelay has, in that order.
std::vector<SrtpSuite> suite_list(std::string_view names) {
  std::vector<SrtpSuite> out;
  while (!names.empty()) {
    const size_t end = std::min(names.find(';'), names.size());
    for (const auto& info : kSrtpSuites)
      if (iequals(info.name, names.substr(0, end))) out.push_back(info.suite);
    names.remove_prefix(std::min(end + 1, names.size()));
  }
  return out;
}

// Moves the suites `order` names to the front, in its order; the others
// follow as they were. Tags stay with their lines.
void apply_order(std::vector<SdesCrypto>& lines, const std::vector<SrtpSuite>& order) {
  const auto rank = [&](const SdesCrypto& c) {
    return size_t(std::find(order.begin(), order.end(), c.key.suite) - order.begin());
  };
  std::stable_sort(lines.begin(), lines.end(),
                   [&](const SdesCrypto& a, const SdesCrypto& b) { return rank(a) < rank(b); });
}

}  // namespace

bool SdesFlags::allows(SrtpSuite s) const {
  if (off || (excluded & suite_bit(s))) return false;
  return !only_given || (only & suite_bit(s));
}

Result<SdesFlags, SdesError> apply_sdes_flag(SdesFlags f, std::string_view flag) {
  auto suite_arg = [](std::string_view name) -> std::optional<std::optional<SrtpSuite>> {
    if (name.empty()) return std::nullopt;
    for (char c : name)
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
        return std::nullopt;
    for (const auto& info : kSrtpSuites)
      if (iequals(info.name, name)) return std::optional<SrtpSuite>(info.suite);
    return std::optional<SrtpSuite>();  // well-formed, but a suite voxrelay lacks
  };
  if (flag == "off" || flag == "no" || flag == "disable") {
    f.off = true;
  } else if (flag.starts_with("no-") || flag.starts_with("only-")) {
    const bool only = flag.starts_with("only-");
    auto s = suite_arg(flag.substr(only ? 5 : 3));
    if (!s) return Err{SdesError::kUnknownFlag};
    if (only) f.only_given = true;
    if (*s) (only ? f.only : f.excluded) |= suite_bit(**s);
  } else if (flag == "unencrypted_srtp") {
    f.session.unencrypted_srtp = true;
  } else if (flag == "unencrypted_srtcp") {
    f.session.unencrypted_srtcp = true;
  } else if (flag == "unauthenticated_srtp") {
    f.session.unauthenticated_srtp = true;
  } else if (flag == "encrypted_srtp") {
    f.session.unencrypted_srtp = false;
  } else if (flag == "encrypted_srtcp") {
    f.session.unencrypted_srtcp = false;
  } else if (flag == "authenticated_srtp") {
    f.session.unauthenticated_srtp = false;
  } else if (flag == "pad") {
    f.pad = true;
  } else if (flag == "lifetime") {
    f.lifetime = true;
  } else if (flag == "static") {
    f.static_keys = true;
  } else if (flag == "nonew") {
    f.nonew = true;
  } else if (flag == "prefer") {
    f.prefer = true;
  } else if (flag.starts_with("order:")) {
    f.order = suite_list(flag.substr(6));
  } else {
    return Err{SdesError::kUnknownFlag};
  }
  return f;
}

Result<SdesFlags, SdesError> parse_sdes_flags(std::span<const std::string_view> flags) {
  SdesFlags f;
  for (auto flag : flags) {
    auto r = apply_sdes_flag(f, flag);
    if (!r) return Err{r.error()};
    f = *r;
  }
  return f;
}

// --- keys ------------------------------------------------------------------------

bool random_bytes(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += size_t(n);
  }
  return true;
}

Result<SrtpKey, SdesError> generate_srtp_key(SrtpSuite suite, SrtpSessionFlags flags) {
  SrtpKey k;
  k.suite = suite;
  k.flags = flags;
  const auto& info = srtp_suite_info(suite);
  k.key_salt_length = uint8_t(info.key_length + info.salt_length);
  if (!random_bytes({k.key_salt.data(), k.key_salt_length})) return Err{SdesError::kRandomFailure};
  return k;
}

// --- offer / answer --------------------------------------------------------------

Result<std::vector<SdesCrypto>, SdesError> make_sdes_offer(
    const SdesFlags& flags, const std::vector<SdesCrypto>* previous) {
  if (flags.off) return std::vector<SdesCrypto>{};
  if (previous && !previous->empty() && flags.static_keys) return *previous;

  std::vector<SdesCrypto> out;
  std::array<bool, dataplane::kSrtpSuiteCount + 1> tag_used{};  // tags 1..5
  size_t fresh_bytes = 0;
  for (const auto& info : kSrtpSuites) {
    if (!flags.allows(info.suite) || !flags_supported(info.suite, flags.session)) continue;
    SdesCrypto c;
    c.tag = 0;
    c.key.suite = info.suite;
    c.key.flags = flags.session;
    if (previous) {
      // A re-offer keeps the tag and key of a suite it offered before, so an
      // unchanged re-INVITE re-keys nothing.
      for (const auto& p : *previous) {
        if (p.key.suite == info.suite && p.key.flags == flags.session && p.tag < tag_used.size() &&
            p.tag > 0 && !tag_used[p.tag]) {
          c.tag = p.tag;
          c.key = p.key;
          tag_used[p.tag] = true;
          break;
        }
      }
    }
    if (c.tag == 0) fresh_bytes += info.key_length + info.salt_length;
    if (flags.lifetime) c.lifetime = uint64_t(1) << 31;
    out.push_back(std::move(c));
  }
  if (out.empty()) return Err{SdesError::kNoAcceptableCrypto};

  // One getrandom call for every new key of the offer.
  std::array<uint8_t, dataplane::kSrtpSuiteCount * kSrtpMaxKeySaltLength> pool;
  if (!random_bytes({pool.data(), fresh_bytes})) return Err{SdesError::kRandomFailure};
  size_t used = 0;
  uint32_t next_tag = 1;
  for (auto& c : out) {
    if (c.tag != 0) continue;
    while (tag_used[next_tag]) ++next_tag;
    c.tag = next_tag;
    tag_used[next_tag] = true;
    const auto& info = srtp_suite_info(c.key.suite);
    c.key.key_salt_length = uint8_t(info.key_length + info.salt_length);
    std::copy_n(pool.begin() + long(used), c.key.key_salt_length, c.key.key_salt.begin());
    used += c.key.key_salt_length;
  }
  explicit_bzero(pool.data(), pool.size());
  apply_order(out, flags.order);
  return out;
}

Result<SdesSession, SdesError> accept_sdes_answer(const std::vector<SdesCrypto>& our_offer,
                                                  std::span<const std::string_view> answer) {
  if (answer.size() != 1) return Err{SdesError::kAnswerMismatch};  // §7.1.2: exactly one
  auto theirs = parse_sdes_crypto(answer[0]);
  if (!theirs) return Err{theirs.error()};
  for (const auto& ours : our_offer) {
    if (ours.tag != theirs->tag) continue;
    // §7.1.2/§6.3: same suite, and the negotiated session parameters as offered.
    if (ours.key.suite != theirs->key.suite || !(ours.key.flags == theirs->key.flags))
      return Err{SdesError::kAnswerMismatch};
    return SdesSession{ours.tag, theirs->key, ours.key};
  }
  return Err{SdesError::kAnswerMismatch};
}

Result<SdesAnswer, SdesError> make_sdes_answer(std::span<const std::string_view> offer,
                                               const SdesFlags& flags, const SdesAnswer* previous) {
  if (flags.off) return Err{SdesError::kNoAcceptableCrypto};
  std::optional<SdesCrypto> chosen;
  std::optional<SdesError> malformed;  // first line that is broken, not merely unsupported
  for (auto value : offer) {
    auto c = parse_sdes_crypto(value);
    if (!c) {
      switch (c.error()) {
        case SdesError::kUnknownSuite:  // §7.1.1: the answerer skips what it does not know
        case SdesError::kUnsupportedParam:
        case SdesError::kMultipleKeys:
        case SdesError::kBadKeyMethod:
          break;
        default:
          if (!malformed) malformed = c.error();
      }
      continue;
    }
    if (!flags.allows(c->key.suite)) continue;
    if (previous && flags.static_keys && c->tag == previous->session.tag &&
        c->key == previous->session.inbound)
      return *previous;  // "static": the accepted line is still offered, keep everything
    if (!chosen) chosen = std::move(*c);
    if (!previous || !flags.static_keys) break;
  }
  if (!chosen) return Err{malformed.value_or(SdesError::kNoAcceptableCrypto)};

  SdesAnswer a;
  a.line.tag = chosen->tag;
  if (previous && previous->line.tag == chosen->tag && previous->session.inbound == chosen->key &&
      previous->line.key.suite == chosen->key.suite &&
      previous->line.key.flags == chosen->key.flags) {
    a.line.key = previous->line.key;  // same line as before: the relay keeps its key
  } else {
    auto k = generate_srtp_key(chosen->key.suite, chosen->key.flags);
    if (!k) return Err{k.error()};
    a.line.key = *k;
  }
  if (flags.lifetime) a.line.lifetime = uint64_t(1) << 31;
  a.session = SdesSession{chosen->tag, chosen->key, a.line.key};
  return a;
}

}  // namespace vox::control
