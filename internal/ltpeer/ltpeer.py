# ltpeer driver: one libtorrent session driven over stdin/stdout JSON lines.
#
# Started by the Go package github.com/dhtdb/dhtdb/internal/ltpeer as
# `/usr/bin/python3 -c <this file>`. Protocol:
#   first line out:  {"event": "ready", "version": "<libtorrent version>"}
#                or  {"event": "fatal", "error": "..."} and exit status 3
#   request:   {"id": N, "cmd": "<name>", "args": {...}}
#   response:  {"id": N, "result": {...}}  or  {"id": N, "error": "..."}
# Binary values (ids, keys, salts, bencoded values, signatures) travel as hex.
# Requests are answered out of order: a DHT get or put answers when its alert
# arrives, while other requests keep being served. The process exits when
# stdin closes.
import faulthandler
import hashlib
import json
import os
import select
import sys
import threading
import time
import traceback

try:
    import libtorrent as lt
except Exception as e:  # ImportError, or a broken binary module
    sys.stdout.write(json.dumps({"event": "fatal", "error": "import libtorrent: %s" % e}) + "\n")
    sys.stdout.flush()
    sys.exit(3)

faulthandler.enable()  # a crash in the C++ side prints every thread's stack to stderr
out = sys.stdout
out_lock = threading.Lock()


def send(obj):
    line = json.dumps(obj) + "\n"
    with out_lock:
        out.write(line)
        out.flush()


def unhex(s):
    return bytes.fromhex(s or "")


def sha1_of(h):
    return lt.sha1_hash(unhex(h))


def hexdigest(d):
    """Hex of a sha1_hash (or bytes)."""
    if isinstance(d, (bytes, bytearray)):
        return bytes(d).hex()
    return d.to_bytes().hex()


def as_bytes(x):
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, str):
        return x.encode("latin-1")
    if hasattr(x, "to_bytes"):
        return x.to_bytes()
    return bytes(x)


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def bspan(b, i):
    """End offset of the bencoded element that starts at b[i]."""
    c = b[i:i + 1]
    if c == b"i":
        return b.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while b[i:i + 1] != b"e":
            if i >= len(b):
                raise ValueError("truncated")
            i = bspan(b, i)
        return i + 1
    colon = b.index(b":", i)
    end = colon + 1 + int(b[i:colon])
    if end > len(b):
        raise ValueError("truncated string")
    return end


def bdict(b, i):
    """{key: (start, end)} of the bencoded dict at b[i], values raw."""
    if b[i:i + 1] != b"d":
        raise ValueError("not a dict")
    out, i = {}, i + 1
    while b[i:i + 1] != b"e":
        kend = bspan(b, i)
        colon = b.index(b":", i)
        key = b[colon + 1:kend]
        vend = bspan(b, kend)
        out[key] = (kend, vend)
        i = vend
    return out


def bstr(b, span):
    start, end = span
    return b[b.index(b":", start) + 1:end]


def response_values(pkt):
    """The v (raw bencoded, verbatim), k, sig and seq of a KRPC get response,
    or None. Raw bytes matter: libtorrent hashes and verifies exactly these."""
    try:
        top = bdict(pkt, 0)
        if b"y" not in top or bstr(pkt, top[b"y"]) != b"r" or b"r" not in top:
            return None
        r = bdict(pkt, top[b"r"][0])
        if b"v" not in r:
            return None
        v = pkt[r[b"v"][0]:r[b"v"][1]]
        out = {"v": v}
        if b"k" in r:
            out["k"] = bstr(pkt, r[b"k"])
        if b"sig" in r:
            out["sig"] = bstr(pkt, r[b"sig"])
        return out
    except (ValueError, IndexError):
        return None


def item_value(al, seen):
    """The bencoded value of an item alert, or None when nothing was found.

    The bindings read the item as a string (item.string()), which raises for
    an uninitialized entry (nothing found) and for any value that is not a
    byte string. For those, the value is taken verbatim from the responses
    captured while the get ran (dht_pkt_alert), matched by hash (immutable)
    or by key and signature (mutable)."""
    try:
        item = al.item
        v = item["value"] if isinstance(item, dict) else item
        return lt.bencode(v)
    except Exception:
        pass
    if isinstance(al, lt.dht_immutable_item_alert):
        target = hexdigest(al.target)
        for c in seen:
            if hashlib.sha1(c["v"]).hexdigest() == target:
                return c["v"]
        return None
    key, sig = as_bytes(al.key), as_bytes(al.signature)
    for c in seen:
        if c.get("k") == key and c.get("sig") == sig:
            return c["v"]
    return None


class Fail(Exception):
    pass


class Driver:
    def __init__(self):
        self.ses = None
        self.waiters = []  # dicts: id, match(alert) -> result or None, deadline, what, get
        self.mask = 0
        self.capturing = False
        self.seen = []  # values of get responses captured while a get runs
        self.lock = threading.Lock()

    # ---- session ----
    def cmd_start(self, a):
        if self.ses is not None:
            raise Fail("already started")
        self.mask = int(lt.alert.category_t.error_notification
                        | lt.alert.category_t.status_notification
                        | lt.alert.category_t.dht_notification
                        | lt.alert.category_t.dht_operation_notification
                        | lt.alert.category_t.storage_notification)
        pack = {
            "listen_interfaces": a.get("listen", "127.0.0.1:0"),
            "outgoing_interfaces": "",
            "enable_dht": not a.get("no_dht", False),
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "dht_bootstrap_nodes": "",
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 100000,
            "dht_upload_rate_limit": 1000000,
            "dht_read_only": bool(a.get("read_only", False)),
            "dht_announce_interval": 60,
            "allow_multiple_connections_per_ip": True,
            "enable_outgoing_utp": bool(a.get("utp", False)),
            "enable_incoming_utp": bool(a.get("utp", False)),
            "enable_outgoing_tcp": True,
            "enable_incoming_tcp": True,
            "alert_mask": self.mask,
            "alert_queue_size": 10000,
        }
        self.ses = lt.session(pack)
        port = 0
        deadline = time.time() + 10
        while port == 0 and time.time() < deadline:
            port = self.ses.listen_port()
            if port == 0:
                time.sleep(0.01)
        if port == 0:
            raise Fail("libtorrent did not open a listen port")
        for n in a.get("bootstrap", []):
            self.ses.add_dht_node(parse_addr(n))
        return {"port": port, "version": lt.__version__}

    def need(self):
        if self.ses is None:
            raise Fail("not started")
        return self.ses

    def cmd_add_node(self, a):
        self.need().add_dht_node(parse_addr(a["addr"]))
        return {}

    def own_id(self):
        """The DHT node id, from the saved DHT state ("" before the DHT runs)."""
        st = self.need().save_state(0xFFFFFFFF).get(b"dht state") or {}
        ids = st.get(b"node-id") or []
        if isinstance(ids, (bytes, bytearray)):
            ids = [ids]
        for nid in ids:
            if len(nid) >= 20:
                return bytes(nid[:20]).hex()
        return ""

    def cmd_node_id(self, a):
        return {"id": self.own_id()}

    def cmd_nodes(self, a, rid):
        ses = self.need()
        nid = self.own_id()
        if not nid:
            raise Fail("the DHT is not running yet")
        ses.dht_live_nodes(lt.sha1_hash(bytes.fromhex(nid)))

        def match(al):
            if not isinstance(al, lt.dht_live_nodes_alert):
                return None
            nodes = []
            for n in al.nodes:
                nid, ep = n["nid"], n["endpoint"]
                nodes.append({"id": hexdigest(nid), "addr": "%s:%d" % (ep[0], ep[1])})
            return {"id": hexdigest(al.node_id), "nodes": nodes}
        self.wait(rid, match, a, "live nodes")

    # ---- DHT items ----
    def cmd_put_immutable(self, a, rid):
        ses = self.need()
        entry = lt.bdecode(unhex(a["v"]))
        if entry is None:
            raise Fail("value is not valid bencode")
        target = hexdigest(ses.dht_put_immutable_item(entry))

        def match(al):
            if isinstance(al, lt.dht_put_alert) and hexdigest(al.target) == target:
                return {"target": target, "stored": al.num_success}
            return None
        self.wait(rid, match, a, "put immutable")

    def cmd_put_mutable(self, a, rid):
        ses = self.need()
        sk, pk = unhex(a["secret_key"]), unhex(a["public_key"])
        salt, data = unhex(a["salt"]), unhex(a["data"])
        if len(sk) != 64 or len(pk) != 32:
            raise Fail("secret key must be 64 bytes and public key 32")
        ses.dht_put_mutable_item(sk, pk, data, salt)

        def match(al):
            if not isinstance(al, lt.dht_put_alert):
                return None
            if as_bytes(al.public_key) != pk or as_bytes(al.salt) != salt:
                return None
            return {"target": hashlib.sha1(pk + salt).hexdigest(), "stored": al.num_success,
                    "seq": al.seq, "sig": as_bytes(al.signature).hex()}
        self.wait(rid, match, a, "put mutable")

    def cmd_get_immutable(self, a, rid):
        ses = self.need()
        target = a["target"]
        self.capture(True)
        ses.dht_get_immutable_item(sha1_of(target))

        def match(al):
            if not isinstance(al, lt.dht_immutable_item_alert) or hexdigest(al.target) != target:
                return None
            v = item_value(al, self.seen)
            if v is None:
                return {"found": False}
            return {"found": True, "v": v.hex()}
        self.wait(rid, match, a, "get immutable", get=True)

    def cmd_get_mutable(self, a, rid):
        ses = self.need()
        pk, salt = unhex(a["public_key"]), unhex(a["salt"])
        self.capture(True)
        ses.dht_get_mutable_item(pk, salt)

        def match(al):
            if not isinstance(al, lt.dht_mutable_item_alert) or not al.authoritative:
                return None
            if as_bytes(al.key) != pk or as_bytes(al.salt) != salt:
                return None
            v = item_value(al, self.seen)
            if v is None and al.seq == 0:
                return {"found": False}  # libtorrent's empty answer
            if v is None:
                raise Fail("libtorrent found seq %d but its value was not captured" % al.seq)
            return {"found": True, "v": v.hex(), "seq": al.seq,
                    "sig": as_bytes(al.signature).hex()}
        self.wait(rid, match, a, "get mutable", get=True)

    # ---- DHT peers (BEP 5) ----
    def cmd_get_peers(self, a, rid):
        ses = self.need()
        ih = a["infohash"]
        ses.dht_get_peers(sha1_of(ih))

        def match(al):
            if not isinstance(al, lt.dht_get_peers_reply_alert) or hexdigest(al.info_hash) != ih:
                return None
            return {"peers": ["%s:%d" % (ep[0], ep[1]) for ep in al.peers()]}
        self.wait(rid, match, a, "get peers")

    def cmd_force_announce(self, a):
        # The bindings' session.dht_announce takes a flags type Python cannot
        # build; a torrent's own DHT announce works.
        self.handle(a["infohash"]).force_dht_announce()
        return {}

    # ---- torrents ----
    def handle(self, ih):
        h = self.need().find_torrent(lt.sha1_hash(unhex(ih)))
        if not h.is_valid():
            raise Fail("no torrent %s" % ih)
        return h

    def add(self, atp, a):
        atp.save_path = a["save_dir"]
        atp.flags &= ~lt.torrent_flags.auto_managed
        atp.flags &= ~lt.torrent_flags.paused
        if a.get("seed_mode"):
            atp.flags |= lt.torrent_flags.seed_mode
        atp.peers = [parse_addr(p) for p in a.get("peers", [])]
        h = self.need().add_torrent(atp)
        for p in a.get("peers", []):
            h.connect_peer(parse_addr(p))
        return h

    def cmd_add_magnet(self, a):
        atp = lt.add_torrent_params()
        atp.info_hashes = lt.info_hash_t(lt.sha1_hash(unhex(a["infohash"])))
        if a.get("name"):
            atp.name = a["name"]
        self.add(atp, a)
        return {"infohash": a["infohash"]}

    def cmd_add_torrent_file(self, a):
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(a["path"])
        h = self.add(atp, a)
        return {"infohash": hexdigest(h.info_hashes().v1)}

    def cmd_connect_peer(self, a):
        self.handle(a["infohash"]).connect_peer(parse_addr(a["addr"]))
        return {}

    def cmd_status(self, a):
        s = self.handle(a["infohash"]).status()
        err = ""
        if s.errc.value() != 0:
            err = s.errc.message()
        return {
            "state": str(s.state),
            "has_metadata": s.has_metadata,
            "seeding": s.is_seeding,
            "finished": s.is_finished,
            "progress": s.progress,
            "total_wanted": s.total_wanted,
            "total_wanted_done": s.total_wanted_done,
            "payload_download": s.total_payload_download,
            "payload_upload": s.total_payload_upload,
            "download": s.total_download,
            "upload": s.total_upload,
            "download_rate": s.download_payload_rate,
            "upload_rate": s.upload_payload_rate,
            "peers": s.num_peers,
            "seeds": s.num_seeds,
            "pieces": s.num_pieces,
            "error": err,
        }

    def cmd_remove(self, a):
        h = self.handle(a["infohash"])
        opt = lt.options_t.delete_files if a.get("delete_files") else 0
        self.need().remove_torrent(h, opt)
        return {}

    # ---- plumbing ----
    def wait(self, rid, match, a, what, get=False):
        timeout = float(a.get("timeout", 60))
        self.waiters.append({"id": rid, "match": match, "deadline": time.time() + timeout,
                             "what": what, "get": get})

    def capture(self, on):
        """Turn the capture of DHT packets (dht_pkt_alert) on while a get runs."""
        if on == self.capturing:
            return
        mask = (self.mask | int(lt.alert.category_t.dht_log_notification)) if on else self.mask
        self.need().apply_settings({"alert_mask": mask})
        self.capturing = on
        if not on:
            self.seen = []

    def on_alert(self, al):
        if isinstance(al, lt.dht_pkt_alert):
            if self.capturing and len(self.seen) < 10000:
                vals = response_values(as_bytes(al.pkt_buf))
                if vals is not None:
                    self.seen.append(vals)
            return
        keep = []
        for w in self.waiters:
            res = None
            try:
                res = w["match"](al)
            except Exception as e:
                send({"id": w["id"], "error": "%s: %s" % (w["what"], e)})
                continue
            if res is None:
                keep.append(w)
            else:
                send({"id": w["id"], "result": res})
        self.waiters = keep
        if self.capturing and not any(w["get"] for w in self.waiters):
            self.capture(False)

    def expire(self):
        now = time.time()
        keep = []
        for w in self.waiters:
            if now > w["deadline"]:
                send({"id": w["id"], "error": "%s: timed out waiting for libtorrent" % w["what"]})
            else:
                keep.append(w)
        self.waiters = keep

    def dispatch(self, line):
        try:
            req = json.loads(line)
        except ValueError as e:
            send({"id": 0, "error": "bad request line: %s" % e})
            return
        rid, cmd, args = req.get("id", 0), req.get("cmd", ""), req.get("args") or {}
        fn = getattr(self, "cmd_" + cmd, None)
        if fn is None:
            send({"id": rid, "error": "unknown command %r" % cmd})
            return
        try:
            if fn.__code__.co_argcount == 3:
                fn(args, rid)  # answers later, through a waiter
            else:
                send({"id": rid, "result": fn(args)})
        except Fail as e:
            send({"id": rid, "error": "%s: %s" % (cmd, e)})
        except Exception as e:
            sys.stderr.write(traceback.format_exc())
            send({"id": rid, "error": "%s: %s: %s" % (cmd, type(e).__name__, e)})

    def run(self):
        """Requests are dispatched by the stdin thread as they arrive (the
        session is thread-safe); this thread waits for alerts. One lock
        covers dispatching and alert handling, so a waiter is registered
        before the alert that answers it can be handled."""
        eof = threading.Event()

        def reader():
            for line in sys.stdin:
                if line.strip():
                    with self.lock:
                        self.dispatch(line)
            eof.set()
        threading.Thread(target=reader, daemon=True).start()
        send({"event": "ready", "version": lt.__version__, "pid": os.getpid()})
        notify_r, notify_w = os.pipe()
        os.set_blocking(notify_r, False)
        notified = None
        while not eof.is_set():
            ses = self.ses
            if ses is None:
                eof.wait(0.05)
                continue
            if notified is not ses:
                # libtorrent writes a byte when its alert queue becomes
                # non-empty. (session.wait_for_alert is not used: the bindings
                # wrap the alert it returns while libtorrent may already be
                # reallocating the queue, which crashes under many alerts.)
                ses.set_alert_fd(notify_w)
                notified = ses
            select.select([notify_r], [], [], 0.1)
            try:
                os.read(notify_r, 4096)  # drain before popping, never after
            except BlockingIOError:
                pass
            alerts = ses.pop_alerts()
            with self.lock:
                for al in alerts:
                    self.on_alert(al)
                self.expire()


if __name__ == "__main__":
    d = Driver()
    try:
        d.run()
    finally:
        if d.ses is not None:
            d.ses.pause()
        os._exit(0)
