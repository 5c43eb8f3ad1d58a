#!/usr/bin/env python3
"""Timing and polling helpers for bench/daemon_bench.sh (issue 11).

Each subcommand does one bounded job and prints one line the shell script
parses. Times are taken here (time.monotonic, one clock for every process on
the machine) so that process start-up of the helper itself is never inside a
measured interval. Every wait has a deadline; on timeout the subcommand prints
"TIMEOUT <what>" and exits 2.
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET

POLL_S = 0.020
FEW_MISSING = 256    # B lacks at most this many files: look for them by name
FEW_POLL_S = 0.002


def die_timeout(what):
    print(f"TIMEOUT {what}")
    sys.exit(2)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(POLL_S)
    die_timeout(f"port {port} never accepted")


# ---------------------------------------------------------------- syncthing


def st_config(home_a, home_b, port_a, port_b, gui_a, gui_b, apikey, folder_a, folder_b):
    """Writes both config.xml files: explicit loopback addresses, one shared
    folder, and everything that talks to the Internet or the LAN turned off."""
    homes = [home_a, home_b]
    trees = [ET.parse(os.path.join(h, "config.xml")) for h in homes]
    ids = [t.getroot().find("device").get("id") for t in trees]
    ports, guis, folders = [port_a, port_b], [gui_a, gui_b], [folder_a, folder_b]
    for i, tree in enumerate(trees):
        root = tree.getroot()
        other = 1 - i
        options = root.find("options")
        settings = {
            "listenAddress": f"tcp://127.0.0.1:{ports[i]}",
            "globalAnnounceEnabled": "false",
            "localAnnounceEnabled": "false",
            "relaysEnabled": "false",
            "natEnabled": "false",
            "urAccepted": "-1",
            "urSeen": "3",
            "startBrowser": "false",
            "autoUpgradeIntervalH": "0",
            "crashReportingEnabled": "false",
            "announceLANAddresses": "false",
            # Our daemon runs at normal priority: compare engines, not nice levels.
            "setLowPriority": "false",
        }
        for key, value in settings.items():
            el = options.find(key)
            if el is None:
                el = ET.SubElement(options, key)
            el.text = value
        gui = root.find("gui")
        gui.find("address").text = f"127.0.0.1:{guis[i]}"
        gui.find("apikey").text = apikey
        # The peer, at its explicit address.
        template = root.find("defaults/device")
        peer = ET.fromstring(ET.tostring(template))
        peer.set("id", ids[other])
        peer.set("name", "peer")
        peer.find("address").text = f"tcp://127.0.0.1:{ports[other]}"
        root.insert(1, peer)
        # The shared folder: rescans only when asked (POST /rest/db/scan), so
        # the clock starts when we say, not when a watcher notices.
        folder = ET.fromstring(ET.tostring(root.find("defaults/folder")))
        folder.set("id", "bench")
        folder.set("label", "bench")
        folder.set("path", folders[i])
        folder.set("fsWatcherEnabled", "false")
        folder.set("rescanIntervalS", "3600")
        for dev in folder.findall("device"):
            folder.remove(dev)
        for dev_id in ids:
            d = ET.SubElement(folder, "device")
            d.set("id", dev_id)
            d.set("introducedBy", "")
            ET.SubElement(d, "encryptionPassword").text = ""
        root.insert(1, folder)
        tree.write(os.path.join(homes[i], "config.xml"))
    print(ids[0], ids[1])


def st_get(gui, apikey, path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{gui}{path}", method=method,
                                 headers={"X-API-Key": apikey})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body.strip() else None


def st_ready(gui_a, gui_b, apikey, id_b, timeout_s):
    """Both REST APIs answer, A is connected to B, and both folders are idle."""
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        try:
            conns = st_get(gui_a, apikey, "/rest/system/connections")
            connected = conns["connections"].get(id_b, {}).get("connected", False)
            states = [st_get(g, apikey, "/rest/db/status?folder=bench")["state"]
                      for g in (gui_a, gui_b)]
            if connected and states == ["idle", "idle"]:
                print("ready")
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(POLL_S * 5)
    die_timeout("syncthing pair never became ready")


def same_content(path_a, path_b):
    try:
        with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def st_case(gui_a, gui_b, apikey, files, nbytes, changed_a, changed_b, timeout_s, mode="events"):
    """Rescan A's folder, then wait until B's database has every file (it
    counts a file only once it is complete on disk under its name) and needs
    nothing more, and, for the one-change case, the changed file's new bytes
    are readable in B's folder. (localBytes also counts 128 per directory.)

    mode "poll": ask B's /rest/db/status every 20 ms. That call is expensive
    for syncthing while it pulls thousands of files (it slowed the 10,000-file
    case down several times here), so by default ("events") B's status is
    asked only when B reports a change (a long poll on /rest/events for
    StateChanged and LocalIndexUpdated, which returns as soon as one
    happens), and at least once a second."""
    files, nbytes, timeout_s = int(files), int(nbytes), float(timeout_s)

    def complete():
        st = st_get(gui_b, apikey, "/rest/db/status?folder=bench")
        done = (st["needTotalItems"] == 0 and st["localFiles"] == files
                and st["globalFiles"] == files and st["localBytes"] >= nbytes)
        if done and changed_a != "-":
            done = same_content(changed_a, changed_b)
        return done

    events = "/rest/events?events=StateChanged,LocalIndexUpdated"
    since = 0
    if mode == "events":
        # Registers the event filter and returns the newest matching event id.
        for ev in st_get(gui_b, apikey, f"{events}&since=0&limit=1&timeout=1") or []:
            since = max(since, ev["id"])
    t0 = time.monotonic()
    st_get(gui_a, apikey, "/rest/db/scan?folder=bench", method="POST")
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        try:
            if complete():
                print(f"{time.monotonic() - t0:.3f}")
                return
            if mode == "events":
                for ev in st_get(gui_b, apikey, f"{events}&since={since}&timeout=1") or []:
                    since = max(since, ev["id"])
                continue
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(POLL_S)
    die_timeout("B never had all of A's folder")


# ---------------------------------------------------------------- nearbytes

HEX_BIN = re.compile(r"^[0-9a-f]{64}\.bin$")


def names(directory):
    try:
        return {n for n in os.listdir(directory) if HEX_BIN.match(n)}
    except FileNotFoundError:
        return set()


def nb_wait_connected(nb, home_b, timeout_s):
    """Polls `nearbytes --json peers` on B until some peer says connected."""
    deadline = time.monotonic() + float(timeout_s)
    env = dict(os.environ, NEARBYTES_HOME=home_b)

    def has_connected(node):
        if isinstance(node, dict):
            if node.get("state") == "connected":
                return True
            return any(has_connected(v) for v in node.values())
        if isinstance(node, list):
            return any(has_connected(v) for v in node)
        return False

    last = ""
    while time.monotonic() < deadline:
        out = subprocess.run([nb, "--json", "peers"], env=env, capture_output=True, text=True)
        last = out.stdout.strip() or out.stderr.strip()
        try:
            if out.returncode == 0 and has_connected(json.loads(out.stdout)):
                print("connected")
                return
        except ValueError:
            pass
        time.sleep(0.1)
    print(f"last `peers` answer: {last[:400]}", file=sys.stderr)
    die_timeout("B's daemon never reported a connected peer")


def nb_case(home_a, home_b, hub, timeout_s, *put_argv):
    """Runs the put into A (both daemons running), then waits until B holds
    every event file and every block file A holds. Blocks appear under their
    final name only after their hash was checked, so names are enough.
    Prints: end-to-end seconds, transfer-alone seconds."""
    timeout_s = float(timeout_s)
    t0 = time.monotonic()
    put = subprocess.run(list(put_argv))
    t1 = time.monotonic()
    if put.returncode != 0:
        print(f"put failed with exit {put.returncode}", file=sys.stderr)
        sys.exit(1)
    ev_a = names(os.path.join(home_a, "store", "channels", hub))
    bl_a = names(os.path.join(home_a, "store", "blocks"))
    ev_dir_b = os.path.join(home_b, "store", "channels", hub)
    bl_dir_b = os.path.join(home_b, "store", "blocks")
    deadline = t0 + timeout_s
    # What B still lacks: found by listing while much is missing, then by
    # looking for the few missing names themselves every 2 ms, so that
    # neither the listing of 10,000 names nor a 20 ms poll adds tens of
    # milliseconds to a transfer of one file (syncthing's side is timed by
    # its event stream, which has no such delay either).
    missing = None
    while time.monotonic() < deadline:
        if missing is None or len(missing) > FEW_MISSING:
            missing = [os.path.join(ev_dir_b, n) for n in ev_a - names(ev_dir_b)]
            missing += [os.path.join(bl_dir_b, n) for n in bl_a - names(bl_dir_b)]
        else:
            missing = [path for path in missing if not os.path.exists(path)]
        if not missing:
            t2 = time.monotonic()
            print(f"{t2 - t0:.3f} {t2 - t1:.3f}")
            return
        time.sleep(POLL_S if len(missing) > FEW_MISSING else FEW_POLL_S)
    ev_b, bl_b = names(ev_dir_b), names(bl_dir_b)
    print(f"B has {len(ev_a & ev_b)}/{len(ev_a)} events, {len(bl_a & bl_b)}/{len(bl_a)} blocks",
          file=sys.stderr)
    die_timeout("B never held all of A's events and blocks")


def nb_live(nb, home_a, home_b, count, timeout_s):
    """`chat --follow` on B, `say` on A `count` times, one at a time. For each
    message: latency from the end of A's `say` (the event is on A's disk) and
    from its start, to the moment B's follower printed the line with it."""
    count, timeout_s = int(count), float(timeout_s)
    env_a = dict(os.environ, NEARBYTES_HOME=home_a)
    env_b = dict(os.environ, NEARBYTES_HOME=home_b)
    follower = subprocess.Popen([nb, "--json", "chat", "--follow"], env=env_b,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                bufsize=0)
    seen = {}
    cond = threading.Condition()
    marker = re.compile(rb"nbbench-live-\d+-(\d+)")

    def reader():
        for line in iter(follower.stdout.readline, b""):
            now = time.monotonic()
            for m in marker.finditer(line):
                with cond:
                    seen.setdefault(int(m.group(1)), now)
                    cond.notify_all()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(1.0)  # let the follower print the history and start waiting
    nonce = os.getpid()
    from_return, from_start = [], []
    deadline = time.monotonic() + timeout_s
    try:
        for i in range(count):
            if follower.poll() is not None:
                print("chat --follow exited early", file=sys.stderr)
                sys.exit(1)
            t_start = time.monotonic()
            said = subprocess.run([nb, "-q", "say", f"nbbench-live-{nonce}-{i}"], env=env_a,
                                  stdout=subprocess.DEVNULL)
            t_return = time.monotonic()
            if said.returncode != 0:
                print(f"say failed with exit {said.returncode}", file=sys.stderr)
                sys.exit(1)
            with cond:
                while i not in seen:
                    left = min(deadline, t_return + 10) - time.monotonic()
                    if left <= 0:
                        die_timeout(f"message {i} never reached B ({len(from_return)} did)")
                    cond.wait(left)
                t_seen = seen[i]
            from_return.append(t_seen - t_return)
            from_start.append(t_seen - t_start)
            time.sleep(0.05)
    finally:
        follower.terminate()
        try:
            follower.wait(5)
        except subprocess.TimeoutExpired:
            follower.kill()

    def pct(values, p):
        # Nearest rank: with 50 samples p99 is the largest one.
        s = sorted(values)
        return s[max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))]

    ms = lambda v: f"{v * 1000:.1f}"
    print(ms(pct(from_return, 50)), ms(pct(from_return, 99)),
          ms(pct(from_start, 50)), ms(pct(from_start, 99)),
          ms(statistics.median([s - r for s, r in zip(from_start, from_return)])))


# ---------------------------------------------------------------- misc


def stats(*values):
    """min and median of the given numbers, 3 decimals."""
    v = sorted(float(x) for x in values)
    print(f"{v[0]:.3f} {statistics.median(v):.3f}")


COMMANDS = {
    "free-port": lambda: print(free_port()),
    "wait-port": lambda port, t: wait_port(int(port), float(t)),
    "st-config": st_config,
    "st-ready": st_ready,
    "st-case": st_case,
    "nb-wait-connected": nb_wait_connected,
    "nb-case": nb_case,
    "nb-live": nb_live,
    "stats": stats,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
