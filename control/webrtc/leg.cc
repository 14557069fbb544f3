#include "control/webrtc/leg.h"

#include <algorithm>
#include <climits>
#include <vector>

namespace vox::control::webrtc {

namespace {

bool same_dtls(const LegSpec& a, const LegSpec& b) {
  return a.dtls == b.dtls && a.dtls_client == b.dtls_client &&
         a.remote_fingerprint == b.remote_fingerprint;
}

}  // namespace

WebrtcLeg::WebrtcLeg(const LegSpec& spec, DtlsContext* dtls, LegCounters& counters)
    : spec_(spec), context_(dtls), counters_(counters) {
  if (spec_.ice) ice_.emplace(spec_.local, spec_.remote);
  new_dtls();
}

WebrtcLeg::~WebrtcLeg() = default;

void WebrtcLeg::new_dtls() {
  dtls_.reset();
  started_ = finished_ = false;
  done_ = {};
  if (spec_.dtls && context_ && !spec_.dtls_done)
    dtls_ = std::make_unique<DtlsSession>(*context_, spec_.dtls_client, spec_.remote_fingerprint);
}

void WebrtcLeg::update(const LegSpec& spec) {
  const bool dtls_changed = !same_dtls(spec_, spec);
  const LegSpec old = spec_;
  spec_ = spec;
  if (!spec_.ice) {
    ice_.reset();
  } else if (!ice_) {
    ice_.emplace(spec_.local, spec_.remote);
  } else if (!(old.local == spec_.local && old.remote == spec_.remote)) {
    ice_->update(spec_.local, spec_.remote);  // ICE restart
    expired_ = false;
  }
  if (dtls_changed) new_dtls();
}

const Endpoint& WebrtcLeg::client_target() const {
  if (ice_) return ice_->peer().port ? ice_->peer() : ice_->last_checked();
  return spec_.sdp_peer;
}

void WebrtcLeg::on_stun(std::span<const uint8_t> d, const Endpoint& source, int64_t now_ns,
                        const Send& send, const Report& report) {
  if (!ice_) {
    ++counters_.unexpected;
    return;
  }
  uint8_t reply[1024];
  const IceCheckOutcome out = ice_->on_check(d, source, now_ns, reply);
  if (out.refusal == IceRefusal::kNone) {
    ++counters_.checks_answered;
  } else {
    ++counters_.checks_refused[size_t(out.refusal)];
  }
  if (out.reply_len) send(source, {reply, out.reply_len});
  if (out.peer_changed) {
    expired_ = false;
    LegEvent e = event(LegEventKind::kIcePeer);
    e.peer = ice_->peer();
    report(e);
  }
  maybe_start(now_ns, send, report);
}

void WebrtcLeg::on_dtls(std::span<const uint8_t> d, const Endpoint& source, int64_t now_ns,
                        const Send& send, const Report& report) {
  if (!dtls_) {
    ++counters_.unexpected;
    return;
  }
  // Before ICE has validated anyone, a DTLS datagram is not from the party.
  if (ice_ && ice_->last_checked().port == 0) {
    ++counters_.unexpected;
    return;
  }
  // A failed session takes nothing more (a released one may resend its
  // last flight).
  if (dtls_->state() == DtlsState::kFailed) return;
  dtls_peer_ = source;
  dtls_->on_datagram(d, now_ns);
  flush_dtls(send, report);
}

void WebrtcLeg::maybe_start(int64_t now_ns, const Send& send, const Report& report) {
  if (!dtls_ || started_ || !spec_.dtls_client || client_target().port == 0) return;
  started_ = true;
  dtls_peer_ = client_target();
  dtls_->start(now_ns);
  flush_dtls(send, report);
}

void WebrtcLeg::flush_dtls(const Send& send, const Report& report) {
  std::vector<uint8_t> datagram;
  // The client sends where ICE says (a network change moves it too); the
  // server answers where the peer's datagram came from.
  const Endpoint to = spec_.dtls_client && ice_ && ice_->peer().port ? ice_->peer() : dtls_peer_;
  while (dtls_->pop(datagram))
    if (to.port) send(to, datagram);
  if (finished_ || dtls_->state() == DtlsState::kHandshaking) return;
  finished_ = true;
  done_.dtls = dtls_->state();
  report_outcome(report);
}

void WebrtcLeg::report_outcome(const Report& report) {
  if (dtls_->state() == DtlsState::kFailed) {
    ++counters_.handshakes_failed[size_t(dtls_->failure())];
    LegEvent e = event(LegEventKind::kDtlsFailed);
    e.failure = dtls_->failure();
    e.detail = std::string(dtls_->failure_detail());
    report(e);
    return;
  }
  ++counters_.handshakes_completed;
  done_.srtp_profile = dtls_->srtp_profile();
  done_.cipher = dtls_->cipher();
  done_.handshake_ns = dtls_->handshake_ns();
  LegEvent e = event(LegEventKind::kDtlsConnected);
  e.keys = dtls_->keys();
  e.detail = done_.srtp_profile + " " + done_.cipher;
  e.handshake_ns = done_.handshake_ns;
  report(e);
  e.keys.inbound.wipe();
  e.keys.outbound.wipe();
  dtls_->release();
  released_ = true;
}

LegEvent WebrtcLeg::event(LegEventKind kind) const {
  LegEvent e;
  e.kind = kind;
  e.id = spec_.id;
  e.key = spec_.key;
  return e;
}

void WebrtcLeg::on_timer(int64_t now_ns, const Send& send, const Report& report) {
  maybe_start(now_ns, send, report);  // a role learned from an answer, after the checks
  if (ice_ && !expired_ && ice_->consent_expired(now_ns)) {
    expired_ = true;
    LegEvent e = event(LegEventKind::kIceExpired);
    e.peer = ice_->peer();
    report(e);
  }
  if (!dtls_) return;
  if (dtls_->state() == DtlsState::kHandshaking && now_ns >= dtls_->next_timer_ns()) {
    dtls_->on_timer(now_ns);
    flush_dtls(send, report);
  }
}

int64_t WebrtcLeg::next_timer_ns() const {
  if (dtls_ && spec_.dtls_client && !started_ && client_target().port) return 0;  // start now
  int64_t t = INT64_MAX;
  if (dtls_ && dtls_->state() == DtlsState::kHandshaking) t = dtls_->next_timer_ns();
  return t;
}

LegStatus WebrtcLeg::status(int64_t now_ns) const {
  LegStatus s = done_;
  s.dtls_client = spec_.dtls_client;
  if (dtls_ && !finished_) s.dtls = dtls_->state();
  if (ice_) {
    s.ice = ice_->state(now_ns);
    s.peer = ice_->peer();
  }
  return s;
}

}  // namespace vox::control::webrtc
