"""Rows, table and model of bench/multinode.sh (issue 24 §6): bytes and seconds per round per node.

  multinode.py header                      the TSV's header line
  multinode.py row ALG SCALING NODES CLIENTS ROUNDS LONG BASE
                                           one TSV line per node from the ROUNDS-round run LONG
                                           and its 1-round baseline BASE (folders with run.h5;
                                           LONG.bytes / BASE.bytes hold "NODE RX TX" before, after)
  multinode.py table TSV...                the rows as a Markdown table, one line per case
                                           (several TSVs, repeats: medians, times with min–max)
  multinode.py probe-server HOST PORT / probe-client HOST PORT
                                           the TCP bandwidth and one-way latency of a link (the
                                           box's veth; the time model's check uses them)
  multinode.py model TSV [--link LINK.tsv] [--nodes 64] [--gbit 100] [--latency-us 20]
                                           the byte model, its check against the rows, and the
                                           projected round time (see docs/results/multinode.md)

Needs numpy; row needs h5py (bench/round_time.sh's bench_python finds a Python with both).
"""
import argparse
import math
import sys

import numpy as np

COLUMNS = ["algorithm", "scaling", "nodes", "clients", "clients_node", "rounds", "node", "host",
           "eth0_tx", "eth0_rx", "payload_sent", "payload_received", "comm_s", "train_s", "round_s",
           "run1_tx", "run1_rx", "S", "P"]
# The model's shapes (configs/fedsaf-synthetic.toml with model.hidden = [256]: 60 inputs, 10 classes).
FEATURES, HIDDEN, CLASSES = 60, 256, 10


def shapes():
    """(S, P): FedSAF's shared values (the hidden layer, n_head = 1) and the whole model's."""
    s = FEATURES * HIDDEN + HIDDEN
    return s, s + HIDDEN * CLASSES + CLASSES


def counters(path):
    """{node: (Δrx, Δtx)} from a .bytes file: the lines before the run, then those after."""
    lines = [line.split() for line in open(path) if line.strip()]
    half = len(lines) // 2
    return {b[0]: (int(a[1]) - int(b[1]), int(a[2]) - int(b[2])) for b, a in zip(lines[:half], lines[half:])}


def row(args):
    import h5py
    alg, scaling, nodes, clients, rounds, long_dir, base_dir = args
    nodes, clients, rounds = int(nodes), int(clients), int(rounds)
    long_bytes, base_bytes = counters(long_dir + ".bytes"), counters(base_dir + ".bytes")
    with h5py.File(long_dir + "/run.h5", "r") as f, h5py.File(base_dir + "/run.h5", "r") as g:
        hosts = [h.decode().strip("\0") if isinstance(h, bytes) else str(h) for h in f["ranks/hostname"][:]]
        sent = f["timing/bytes_sent"][:].sum(0) - g["timing/bytes_sent"][:].sum(0)          # [W]
        received = f["timing/bytes_received"][:].sum(0) - g["timing/bytes_received"][:].sum(0)
        steady = slice(1, rounds - 1) if rounds > 2 else slice(0, rounds)  # not the warm-up, not the evaluating last
        comm = np.median(f["timing/comm_seconds"][steady], axis=0)        # [W]
        train = np.median(f["timing/train_seconds"][steady], axis=0)
        wall = float(np.median(f["metrics/rounds/wall_seconds"][steady]))
        hosted = np.bincount(f["partition/placement"][:], minlength=len(hosts))  # [W] clients per rank
    s, p = shapes()
    per = rounds - 1
    for rank, host in enumerate(hosts):
        rx_long, tx_long = long_bytes[host]
        rx_base, tx_base = base_bytes[host]
        clients_node = int(hosted[rank])
        print("\t".join(str(v) for v in [
            alg, scaling, nodes, clients, clients_node, rounds, rank + 1, host,
            round((tx_long - tx_base) / per), round((rx_long - rx_base) / per),
            round(sent[rank] / per), round(received[rank] / per),
            f"{comm[rank]:.4f}", f"{train[rank]:.4f}", f"{wall:.4f}", tx_base, rx_base, s, p]))


def load(path):
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            values = dict(zip(header, line.rstrip("\n").split("\t")))
            for k, v in values.items():
                try:
                    values[k] = int(v)
                except ValueError:
                    try:
                        values[k] = float(v)
                    except ValueError:
                        pass
            rows.append(values)
    return rows


def cases(rows):
    out = {}
    for r in rows:
        out.setdefault((r["algorithm"], r["scaling"], r["nodes"]), []).append(r)
    return out


def kb(v):
    return f"{round(v / 1e3, 1) or 0.0:.1f}"  # no "-0.0" for a few bytes of noise


def table(args):
    """Several TSVs (repeats): per node the median over them; times also as min–max over them."""
    runs = [load(path) for path in args]
    merged = {}  # (alg, scaling, nodes) -> node -> [rows, one per repeat]
    for rows in runs:
        for key, rs in cases(rows).items():
            for r in rs:
                merged.setdefault(key, {}).setdefault(r["node"], []).append(r)
    med = lambda rs, k: float(np.median([r[k] for r in rs]))
    spread = "" if len(runs) == 1 else f" (median over {len(runs)} repeats, min–max)"
    print("| algorithm | scaling | nodes | clients (per node) | eth0 tx, rx per node, kB/round | "
          "payload sent, received per node, kB/round | eth0 / payload | comm s/round per node | "
          f"train s/round per node | round s{spread} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (alg, scaling, nodes), per_node in merged.items():
        nodes_rows = [per_node[k] for k in sorted(per_node)]
        tx = " / ".join(f"{kb(med(rs, 'eth0_tx'))}, {kb(med(rs, 'eth0_rx'))}" for rs in nodes_rows)
        pay = " / ".join(f"{kb(med(rs, 'payload_sent'))}, {kb(med(rs, 'payload_received'))}" for rs in nodes_rows)
        ratio = sum(med(rs, "eth0_tx") for rs in nodes_rows) / sum(med(rs, "payload_sent") for rs in nodes_rows)
        clients = "/".join(str(rs[0]["clients_node"]) for rs in nodes_rows)
        comm = " / ".join("%.3f" % med(rs, "comm_s") for rs in nodes_rows)
        train = " / ".join("%.3f" % med(rs, "train_s") for rs in nodes_rows)
        rounds = [r["round_s"] for r in nodes_rows[0]]
        wall = f"{np.median(rounds):.3f}" + ("" if len(rounds) == 1 else f" ({min(rounds):.3f}–{max(rounds):.3f})")
        shown = "-" if nodes == 1 else "%.2f" % ratio
        print(f"| {alg} | {scaling} | {nodes} | {nodes_rows[0][0]['clients']} ({clients}) | {tx} | {pay} | {shown} "
              f"| {comm} | {train} | {wall} |")


# ---- the model ---------------------------------------------------------------------------------
# Payload bytes one rank sends and receives per round (the Communicator's accounting,
# mpi/communicator.hpp: an all-reduce of B bytes counts B sent and B received; an allgatherv counts
# the rank's own part sent and the whole result received; a ring isend/irecv counts its bytes).
# W ranks, m uploads on this rank, M in all, S shared and P model values.

def fedavg_payload(w, m, big_m, s, p):
    """FedAvg: one all-reduce of the float64 weighted sums (P values + the weight) and of the
    round's 3 loss sums; nothing else moves. Sent = received = 8 (P + 1) + 24, whatever W."""
    b = 8 * (p + 1) + 24
    return b, b


def fedsaf_payload(w, m, big_m, s, p):
    """FedSAF (fisher_mode = param, ring exchange, σ = auto, join_ratio = 1, every client uploads):
    src/algo/pairwise.cpp and mpi/block_ring.hpp. Per round:
      distance pass: the rank's m uploads [m, S] float32 to each of the W − 1 others (4 S m (W − 1)
                     sent; the M − m foreign ones received);
      mix pass:      the uploads and their Fisher weights [m, S] twice (8 S m (W − 1));
      centre:        an all-reduce of the uploads' float64 sum [S] (8 S both ways);
      side data:     gather_rows of ids (int64) and 4 float64 per upload (40 bytes per upload);
      σ = auto:      gather_rows of every finite off-diagonal squared distance of the next cohort's
                     rows, m (M − 1) float64 out, M (M − 1) in;
      the engine:    the loss sums (24 bytes) and fedsaf's diagnostics (per-client rows, small)."""
    sent = 12 * s * m * (w - 1) + 8 * s + 40 * m + 8 * m * (big_m - 1) + 24
    received = 12 * s * (big_m - m) + 8 * s + 40 * big_m + 8 * big_m * (big_m - 1) + 24
    return sent, received


PAYLOAD = {"fedavg": fedavg_payload, "fedsaf": fedsaf_payload}


def pattern(alg, w, sent, received):
    """(out, in): the payload bytes a node's link carries per round. FedAvg's all-reduce, done
    bandwidth-optimally (a ring, or Rabenseifner's reduce-scatter + allgather; at 2 nodes also
    recursive doubling), moves 2 (W − 1) / W of the buffer out and in per node. FedSAF's bytes are
    almost all ring transfers, point to point: its link carries its payload."""
    if w == 1:
        return 0.0, 0.0
    if alg == "fedavg":
        return 2 * (w - 1) / w * sent, 2 * (w - 1) / w * received
    return float(sent), float(received)


def latency_steps(alg, w):
    """Message steps on a round's critical path: FedAvg's ring all-reduce 2 (W − 1) and the loss
    sums' all-reduce (⌈log2 W⌉); FedSAF's two ring passes of W − 1 shifts each and about 8 small
    collectives (ids, centre, side data, σ, counts, diagnostics, loss sums) of ⌈log2 W⌉ steps."""
    if w == 1:
        return 0
    log = math.ceil(math.log2(w))
    return 2 * (w - 1) + (log if alg == "fedavg" else 8 * log)


def model(argv):
    ap = argparse.ArgumentParser(prog="multinode.py model")
    ap.add_argument("tsv", nargs="+", help="bench/multinode.sh's rows; several (repeats) are pooled")
    ap.add_argument("--link", nargs="*", default=[],
                    help="probe-client's outputs: the box's bandwidth and latency (time check; averaged)")
    ap.add_argument("--nodes", type=int, default=64)
    ap.add_argument("--gbit", type=float, default=100.0)
    ap.add_argument("--latency-us", type=float, default=20.0)
    ap.add_argument("--per-node", type=int, default=20, help="weak scaling: clients per node")
    ap.add_argument("--total", type=int, default=1280, help="strong scaling: clients in all")
    a = ap.parse_args(argv)
    rows = [r for path in a.tsv for r in load(path)]
    s, p = rows[0]["S"], rows[0]["P"]
    if len(a.tsv) > 1:
        print(f"{len(a.tsv)} repeats pooled: {len(rows)} rows")

    print("1. Payload model against the Communicator's counts (bytes per round per node)")
    print(f"   S = {s}, P = {p}")
    print("   case                      node  model sent / recv          measured sent / recv       error")
    worst = {}
    for r in rows:
        m, big_m, w = r["clients_node"], r["clients"], r["nodes"]
        ms, mr = PAYLOAD[r["algorithm"]](w, m, big_m, s, p)
        err = max(abs(ms - r["payload_sent"]) / r["payload_sent"], abs(mr - r["payload_received"]) / r["payload_received"])
        worst[r["algorithm"]] = max(worst.get(r["algorithm"], 0), err)
        print(f"   {r['algorithm']:6} {r['scaling']:6} {w} nodes {big_m:4}  {r['node']}    "
              f"{ms:>11,} / {mr:>11,}   {r['payload_sent']:>11,} / {r['payload_received']:>11,}   {100 * err:5.2f} %")
    for alg, e in worst.items():
        print(f"   {alg}: largest error {100 * e:.2f} %")

    print("\n2. Bytes on eth0 per round = h × the link's payload pattern + c, fitted over every row of ≥ 2 nodes (tx and rx)")
    x, y, tags = [], [], []
    for r in rows:
        if r["nodes"] < 2:
            continue
        out, inn = pattern(r["algorithm"], r["nodes"], r["payload_sent"], r["payload_received"])
        x += [out, inn]
        y += [r["eth0_tx"], r["eth0_rx"]]
        tags += [(r, "tx"), (r, "rx")]
    h, c = np.polyfit(np.array(x), np.array(y), 1)
    errors = {}
    for xi, yi, (r, d) in zip(x, y, tags):
        e = (h * xi + c - yi) / yi
        errors.setdefault((r["algorithm"], r["scaling"], r["nodes"]), []).append(e)
    print(f"   h = {h:.4f} (headers, acknowledgements), c = {c / 1e3:.1f} kB per node per round (what is not payload: "
          f"Open MPI's daemons, run-file writes through MPI-IO, ARP)")
    for (alg, scaling, w), es in errors.items():
        print(f"   {alg:6} {scaling:6} {w} nodes: model − measured {', '.join(f'{100 * e:+.1f}' for e in es)} %")
    allerr = [abs(e) for es in errors.values() for e in es]
    print(f"   largest |error| {100 * max(allerr):.1f} %, median {100 * float(np.median(allerr)):.1f} %")

    def wire(alg, w, m, big_m):
        sent, received = PAYLOAD[alg](w, m, big_m, s, p)
        out, inn = pattern(alg, w, sent, received)
        return (h * max(out, inn) + c) if w > 1 else 0.0

    print("\n3. Compute per node (1-node rows: no network; comm_s there is the server step's arithmetic)")
    fit = {}
    for alg in ("fedavg", "fedsaf"):
        pts = sorted((r["clients_node"], r["train_s"], r["comm_s"], r["clients"])
                     for r in rows if r["nodes"] == 1 and r["algorithm"] == alg)
        tau = float(np.mean([t / m for m, t, _, _ in pts]))  # training: seconds per client
        if alg == "fedsaf" and len(pts) >= 2:  # attention arithmetic: κ · m · M · S + c0
            kappa, c0 = np.polyfit([m * big_m * s for m, _, _, big_m in pts], [cm for _, _, cm, _ in pts], 1)
        else:
            kappa, c0 = 0.0, float(np.mean([cm for _, _, cm, _ in pts]))
        fit[alg] = (tau, float(kappa), float(c0))
        print(f"   {alg}: training {1e3 * tau:.2f} ms per client per round; "
              + (f"attention {kappa * 1e9:.3f} ns per (row × upload × shared value) {1e3 * c0:+.1f} ms" if kappa
                 else f"server step {1e3 * c0:.1f} ms"))

    link = None
    if a.link:
        probes = np.array([[float(v) for v in open(path).read().split()] for path in a.link])  # [n, 2]
        bw_box, alpha_box = probes.mean(0)
        link = (bw_box, alpha_box)
        print(f"\n   The box's link (probe, TCP over veth): {bw_box / 1e9:.2f} GB/s, one-way latency {1e6 * alpha_box:.0f} µs")
    print("   Check at 2 and 3 nodes, seconds per round: the node that waited least in the server step (min comm_s)")
    print("   against arithmetic + wire bytes / box bandwidth + steps × box latency; training against τ × clients")
    print("   (slow: measured training / modelled, the ranks' shortage of CPU; 'model × slow' scales the arithmetic by it)")
    print("   case                 comm_s min / median   model   model × slow   train_s median   model   slow   round_s   model")
    for (alg, scaling, w), rs in cases(rows).items():
        if w < 2:
            continue
        tau, kappa, c0 = fit[alg]
        m, big_m = max(r["clients_node"] for r in rs), rs[0]["clients"]
        arithmetic = kappa * m * big_m * s + c0
        net = wire(alg, w, m, big_m) / link[0] + latency_steps(alg, w) * link[1] if link else 0.0
        train = tau * m
        slow = float(np.median([r["train_s"] for r in rs])) / train
        comm = arithmetic + net
        print(f"   {alg:6} {scaling:6} {w} nodes   {min(r['comm_s'] for r in rs):.3f} / {np.median([r['comm_s'] for r in rs]):.3f}"
              f"         {comm:.3f}   {arithmetic * slow + net:12.3f}   {np.median([r['train_s'] for r in rs]):.3f}            "
              f"{train:.3f}   {slow:4.2f}   {np.median([r['round_s'] for r in rs]):.3f}     {comm + train:.3f}")

    bw = a.gbit * 1e9 / 8
    alpha = a.latency_us * 1e-6
    print(f"\n4. Projection: {bw / 1e9:.2f} GB/s per direction per node, α = {a.latency_us:g} µs per message step, "
          f"compute at this machine's 1-node rate (one core per node)")
    print("   round = training + server arithmetic + (h × max(out, in) pattern bytes + c) / bandwidth + steps × α")
    kappa = fit["fedsaf"][1]
    if kappa > 0:
        print(f"   FedSAF's ring transfer over its attention arithmetic ≈ 12 bytes / (bandwidth × κ × clients per node) "
              f"= {12 / (bw * kappa * a.per_node):.3f} at {a.per_node} clients per node, whatever S and W")
    print("   algorithm scaling  nodes clients/node  wire MB/node  compute s  transfer s  latency s  round s  comm share")
    for alg in ("fedavg", "fedsaf"):
        tau, kappa, c0 = fit[alg]
        for scaling in ("weak", "strong"):
            for w in sorted({1, 2, 3, 4, 8, 16, 32, a.nodes}):
                big_m = a.per_node * w if scaling == "weak" else a.total
                m = math.ceil(big_m / w)
                wire_bytes = wire(alg, w, m, big_m)
                compute = tau * m + kappa * m * big_m * s + c0
                transfer = wire_bytes / bw
                lat = latency_steps(alg, w) * alpha
                total = compute + transfer + lat
                print(f"   {alg:9} {scaling:7} {w:5} {m:12} {wire_bytes / 1e6:12.2f} {compute:10.3f} {transfer:11.4f} "
                      f"{lat:10.4f} {total:8.3f} {100 * (transfer + lat) / total:8.1f} %")


# ---- the link of the box ---------------------------------------------------------------------
PROBE_BYTES, PROBE_CHUNK, PROBE_PINGS = 256 << 20, 1 << 20, 2000


def probe_server(args):
    """Serves one probe-client on HOST PORT: echoes its pings, then swallows its stream and acks."""
    import socket
    host, port = args[0], int(args[1])
    with socket.create_server((host, port)) as srv:
        conn, _ = srv.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(PROBE_PINGS):
                conn.sendall(conn.recv(1))
            left = PROBE_BYTES
            while left > 0:
                left -= len(conn.recv(min(left, PROBE_CHUNK)))
            conn.sendall(b"k")


def probe_client(args):
    """Prints "bandwidth_bytes_per_s one_way_latency_s" of the TCP link to a probe-server."""
    import socket
    import time
    host, port = args[0], int(args[1])
    for _ in range(100):  # the server may not listen yet
        try:
            conn = socket.create_connection((host, port))
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit(f"probe: no server on {host}:{port}")
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        for _ in range(PROBE_PINGS):
            conn.sendall(b"p")
            conn.recv(1)
        latency = (time.perf_counter() - t0) / PROBE_PINGS / 2
        chunk = b"\0" * PROBE_CHUNK
        t0 = time.perf_counter()
        for _ in range(PROBE_BYTES // PROBE_CHUNK):
            conn.sendall(chunk)
        conn.recv(1)
        bandwidth = PROBE_BYTES / (time.perf_counter() - t0)
    print(f"{bandwidth:.0f}\t{latency:.7f}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "header":
        print("\t".join(COLUMNS))
    elif cmd == "row":
        row(args)
    elif cmd == "table":
        table(args)
    elif cmd == "probe-server":
        probe_server(args)
    elif cmd == "probe-client":
        probe_client(args)
    elif cmd == "model":
        model(args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
