#!/usr/bin/env python3
"""High availability over TLS: the calls' state goes to a Redis that only
speaks TLS and wants a password, and a relay that does not trust the
server's certificate writes nothing to it.

The test makes a CA and a server certificate for 127.0.0.1 (openssl), and
starts Debian's redis-server with a TLS port only (`--port 0 --tls-port`)
and `--requirepass`. Checked:
  - voxrelay --redis=PW@127.0.0.1:PORT/1 --redis-tls --redis-tls-ca=CA: a
    call set up through NG is in Redis (read back over TLS with redis-cli),
    `statistics` shows the writer connected; killed and started again, the
    relay restores the call from Redis over TLS and relays its media;
  - with another CA (the server's certificate does not chain to it), or a
    server whose certificate (right CA) names another address, the relay
    refuses to start, saying the TLS handshake failed; with
    --no-redis-required it starts, logs it, and writes nothing;
  - with the wrong password it refuses to start, naming Redis's answer.
Needs redis-server (built with TLS, as Debian's is) and openssl. Exit 0 = pass.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import ha  # noqa: E402
import vox  # noqa: E402

PASSWORD = "s3cret"


def make_ca(work: Path, name: str) -> Path:
    key, crt = work / f"{name}.key", work / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    return crt


def make_server_cert(work: Path, ca: str, ip: str = "127.0.0.1") -> tuple:
    key, csr, crt, ext = (work / f"server-{ip}.{x}" for x in ("key", "csr", "crt", "ext"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", "/CN=redis"], check=True, capture_output=True)
    ext.write_text(f"subjectAltName=IP:{ip}\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", work / f"{ca}.crt", "-CAkey",
                    work / f"{ca}.key", "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
                   check=True, capture_output=True)
    return key, crt


class TlsRedis(ha.RedisServer):
    """redis-server on a TLS port only; redis-cli over TLS with the CA."""

    def __init__(self, work: Path, port: int, ca: Path, key: Path, crt: Path):
        super().__init__(work, port, password=PASSWORD)
        self.tls = ["--tls-cert-file", str(crt), "--tls-key-file", str(key),
                    "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
        self.ca = ca

    def start(self) -> "TlsRedis":
        cmd = [ha.REDIS_SERVER, "--port", "0", "--tls-port", str(self.port), "--bind", self.bind,
               "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
               "--logfile", str(self.workdir / "redis.log"), "--requirepass", PASSWORD, *self.tls]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while self.cli("PING").strip() != "PONG":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server (TLS) did not start: {vox.tail(self.workdir / 'redis.log')}")
            time.sleep(0.05)
        return self

    def cli(self, *args, db: int = 0) -> str:
        cmd = [ha.REDIS_CLI, "--tls", "--cacert", str(self.ca), "-h", self.bind, "-p", str(self.port),
               "-n", str(db), "--no-auth-warning", "-a", PASSWORD]
        return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                              timeout=10).stdout


def refused_start(build: Path, args: list) -> str:
    r = subprocess.run([str(build / "voxrelay"), "--foreground", f"--listen-ng=127.0.0.1:{vox.free_udp_port()}",
                        *args], capture_output=True, text=True, timeout=15)
    return f"rc {r.returncode}: {r.stderr.strip()}" if r.returncode != 0 else ""


def main() -> int:
    build = vox.build_dir_from_argv()
    work = Path(tempfile.mkdtemp(prefix="vox-ha-tls-"))
    good_ca = make_ca(work, "ca")
    other_ca = make_ca(work, "other")
    key, crt = make_server_cert(work, "ca")
    redis = TlsRedis(work, vox.free_udp_port(16000, 17000), good_ca, key, crt).start()
    target = f"--redis={redis.target(1)}"
    args = [target, "--redis-tls", f"--redis-tls-ca={good_ca}"]
    relay = second = None
    try:
        relay = vox.Relay(build, extra_args=args, workdir=work).start()
        a, b = vox.UdpPeer(), vox.UdpPeer()
        to_a, to_b = vox.plain_call(relay.ng, "tls-1", a, b)
        vox.two_way(a, to_a, b, to_b)
        ha.check(redis.wait_keys(1, 1) == 1, "the call's state is in Redis, written over TLS",
              str(redis.keys(1)))
        figures = vox.ng_statistics(relay.ng)["totalstatistics"]["redis"]
        ha.check(figures["connected"] == 1 and figures["errors"] == 0, "statistics: connected, no error",
              str(figures))
        relay.proc.send_signal(signal.SIGKILL)
        relay.proc.wait(5)
        relay.stop()
        second = vox.Relay(build, ng_port=relay.ng_port, extra_args=args, workdir=work, verbose=False).start()
        vox.two_way(a, to_a, b, to_b)
        ha.check("1 call(s) found, 1 restored" in second.stderr_path.read_text(errors="replace"),
              "restarted, the relay restores the call over TLS and relays its media",
              vox.tail(second.stderr_path))
        vox.ng_ok(second.ng, {"command": "delete", "call-id": "tls-1", "from-tag": "A"})
        ha.check(redis.wait_keys(1, 0) == 0, "deleted, its key leaves Redis")
        second.sigterm_within(10)

        why = refused_start(build, [target, "--redis-tls", f"--redis-tls-ca={other_ca}"])
        ha.check("TLS handshake" in why, "a server whose certificate does not chain to --redis-tls-ca: "
              "the relay refuses to start, saying why", why or "it started")
        why = refused_start(build, [f"--redis=wrong@127.0.0.1:{redis.port}/1", "--redis-tls",
                                    f"--redis-tls-ca={good_ca}"])
        ha.check("WRONGPASS" in why or "invalid password" in why,
              "a wrong password: the relay refuses to start, with Redis's answer", why or "it started")
        # A certificate from the right CA for another address: refused too.
        wkey, wcrt = make_server_cert(work, "ca", "127.0.0.9")
        elsewhere = TlsRedis(work, vox.free_udp_port(17000, 18000), good_ca, wkey, wcrt).start()
        try:
            why = refused_start(build, [f"--redis={elsewhere.target(1)}", "--redis-tls",
                                        f"--redis-tls-ca={good_ca}"])
        finally:
            elsewhere.stop()
        ha.check("TLS handshake" in why, "a certificate of the right CA for another address: refused",
              why or "it started")
        third = vox.Relay(build, extra_args=[target, "--redis-tls", f"--redis-tls-ca={other_ca}",
                                             "--no-redis-required"], workdir=work, verbose=False).start()
        try:
            c, d = vox.UdpPeer(), vox.UdpPeer()
            vox.plain_call(third.ng, "tls-untrusted", c, d)
            time.sleep(1.5)
            figures = vox.ng_statistics(third.ng)["totalstatistics"]["redis"]
            ha.check(not redis.keys(1) and figures["connected"] == 0 and figures["errors"] >= 1,
                  "--no-redis-required with an untrusted server: calls go on, nothing is written",
                  f"keys {redis.keys(1)}, {figures}")
        finally:
            third.stop()
        print("test_ha_redis_tls: PASS")
        return 0
    except AssertionError:
        for r in (relay, second):
            if r:
                print(vox.tail(r.stderr_path), file=sys.stderr)
        return 1
    finally:
        for r in (relay, second):
            if r:
                r.stop()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
