#!/usr/bin/env python3
"""The Debian package (issue 17): built from the build tree, installed on
this machine, checked, started as its unit starts it, and purged.

  - `cpack -G DEB` in the build directory makes voxrelay_*.deb holding the
    three programs, the systemd unit, /etc/voxrelay/voxrelay.conf and
    /etc/logrotate.d/voxrelay (conffiles) and both man pages, with
    dependencies from dpkg-shlibdeps;
  - `apt-get install ./voxrelay_*.deb` installs it; `voxrelay --version`
    runs; `man voxrelay` and `man voxctl` render (SIGHUP, drain);
    `systemd-analyze verify` passes on the installed unit;
  - the unit's ExecStart line (with a copy of the shipped configuration on
    free ports) tells $NOTIFY_SOCKET READY=1, answers NG, reloads on
    SIGHUP, says STOPPING=1 and exits 0 on SIGTERM;
  - `apt-get purge` removes it all, the conffile too.
Needs root (it installs a package); prints SKIP (exit 0) otherwise.
Exit 0 = pass.
"""

from __future__ import annotations

import glob
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

UNIT = Path("/usr/lib/systemd/system/voxrelay.service")
CONF = Path("/etc/voxrelay/voxrelay.conf")
CONTENTS = ["./usr/bin/voxrelay", "./usr/bin/voxctl", "./usr/bin/voxload", "./etc/voxrelay/voxrelay.conf",
            "./usr/lib/systemd/system/voxrelay.service", "./usr/share/man/man8/voxrelay.8",
            "./usr/share/man/man8/voxctl.8", "./etc/logrotate.d/voxrelay"]


def run(*cmd: str, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)


def case_build(build_dir: Path, out: Path, found: dict) -> None:
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(out)], cwd=build_dir, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"cpack failed:\n{r.stdout[-1500:]}{r.stderr[-1500:]}"
    debs = glob.glob(str(out / "voxrelay_*.deb"))
    assert len(debs) == 1, f"expected one .deb in {out}: {os.listdir(out)}"
    found["deb"] = debs[0]
    listing = run("dpkg-deb", "-c", debs[0]).stdout
    paths = {line.split()[-1] for line in listing.splitlines()}
    missing = [p for p in CONTENTS if p not in paths]
    assert not missing, f"the package lacks {missing}:\n{listing}"
    depends = run("dpkg-deb", "-f", debs[0], "Depends").stdout
    for lib in ("libopus0", "libssl3", "libspandsp2"):
        assert lib in depends, f"Depends lacks {lib}: {depends}"
    with tempfile.TemporaryDirectory() as ctl:
        run("dpkg-deb", "-e", debs[0], ctl)
        conffiles = Path(ctl, "conffiles").read_text().split()
    assert conffiles == [str(CONF), "/etc/logrotate.d/voxrelay"], f"conffiles {conffiles}"
    print(f"      {Path(debs[0]).name}: {os.path.getsize(debs[0]) // 1024} KiB, Depends: {depends.strip()[:120]}...",
          flush=True)


def case_install(found: dict) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = run("apt-get", "install", "-y", "-qq", "--no-install-recommends", found["deb"], env=env)
    assert r.returncode == 0, f"apt-get install failed:\n{r.stdout[-1500:]}{r.stderr[-1500:]}"
    v = run("/usr/bin/voxrelay", "--version")
    assert v.returncode == 0 and "voxrelay" in v.stdout, f"voxrelay --version: {v.stdout}{v.stderr}"
    for page, word in (("voxrelay", "SIGHUP"), ("voxctl", "drain")):
        m = run("man", page, env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        assert m.returncode == 0 and word in m.stdout, f"man {page}: rc {m.returncode} {m.stderr[-300:]}"
    a = run("systemd-analyze", "verify", str(UNIT))
    assert a.returncode == 0, f"systemd-analyze verify {UNIT}:\n{a.stdout}{a.stderr}"


def exec_start() -> list:
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line[len("ExecStart="):])
    raise AssertionError(f"no ExecStart in {UNIT}")


def case_unit_start(work: Path) -> None:
    ng_port = vox.free_udp_port(31000, 32000)
    ports = vox.free_udp_port(33000, 34000)
    conf = work / "voxrelay.conf"
    text = CONF.read_text().replace("127.0.0.1:22222", f"127.0.0.1:{ng_port}")
    text = text.replace("port-min = 30000", f"port-min = {ports}").replace("port-max = 40000",
                                                                           f"port-max = {ports + 99}")
    conf.write_text(text)
    argv = [f"--config-file={conf}" if a == f"--config-file={CONF}" else a for a in exec_start()]
    assert argv[0] == "/usr/bin/voxrelay" and f"--config-file={conf}" in argv, argv
    notify = vox.NotifySocket(work)
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="2000000")
    log = work / "voxrelay.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        notify.collect(1.0)
        assert notify.count("READY=1") == 1, f"no READY=1: {notify.messages}\n{vox.tail(log)}"
        with vox.NgClient("127.0.0.1", ng_port) as ng:
            assert ng.ping(), "the packaged relay does not answer NG"
        proc.send_signal(signal.SIGHUP)
        notify.collect(0.3)
        assert any("SIGHUP:" in line for line in log.read_text().splitlines()), vox.tail(log)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        notify.collect(0.2)
        assert rc == 0, f"exit code {rc}\n{vox.tail(log)}"
        assert notify.count("STOPPING=1") == 1, notify.messages
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def case_purge() -> None:
    r = run("apt-get", "purge", "-y", "-qq", "voxrelay", env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, f"apt-get purge failed:\n{r.stdout[-800:]}{r.stderr[-800:]}"
    left = [p for p in ("/usr/bin/voxrelay", str(UNIT), str(CONF)) if Path(p).exists()]
    assert not left, f"left after purge: {left}"


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    if os.geteuid() != 0:
        print("SKIP: test_package installs a package: needs root")
        return 0
    runner = vox.CaseRunner("test_package")
    found: dict = {}
    with tempfile.TemporaryDirectory(prefix="vox-pkg-") as tmp:
        work = Path(tmp)
        runner.run("cpack -G DEB: the programs, unit, conffile, man pages, shlibdeps", case_build,
                   build_dir, work / "out", found)
        if "deb" in found:
            try:
                runner.run("apt-get install; --version, man pages, systemd-analyze verify", case_install, found)
                runner.run("the unit's ExecStart: READY=1, NG, SIGHUP, STOPPING=1, exit 0",
                           case_unit_start, work)
            finally:
                runner.run("apt-get purge removes it all", case_purge)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
