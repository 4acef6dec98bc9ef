"""Turn the JSON results of bench/run.py into BENCHMARKS.md.

    python bench/report.py .work/bench/results.json > BENCHMARKS.md

Every serving figure is the median of the runs with [min–max], followed by its ratio to the
bare limit and to the best peer (``×bare``, ``×peer``). The bare limit of a cell is the best
figure of the bare uvicorn + Starlette app over its configurations; the best peer is the best
of LitServe and BentoML over theirs. "Best" is the highest throughput, the lowest latency,
memory or time.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

PEERS = ("litserve", "bentoml")
NAMES = {
    "bare": "bare uvicorn+Starlette",
    "litserve": "LitServe",
    "bentoml": "BentoML",
    "ours": "ours",
}
LOWER_IS_BETTER = {
    "p50_ms", "p99_ms", "rss_mb", "start_to_ready_s", "cold_request_ms", "first_answer_s", "idle_rss_mb"
}  # fmt: skip
GOAL_PEER_RATIO = 1.5
GOAL_BARE_RATIO = 0.7
GOAL_OVERHEAD_MS = 1.0

# Why ours trails, by what is measured: one sentence each, kept to what the design explains.
WHY = {
    "rps": (
        "every call crosses two process boundaries, the gateway (key check, quota, metering) and "
        "then a worker process over a socketpair, where the bare app and the peers' in-process "
        "paths call the handler directly; a handler as cheap as this one has no work to hide "
        "that hop"
    ),
    "rps_c1": (
        "with one call in flight, throughput is the inverse of latency, and each call pays in "
        "series the gateway's checks, a metering row committed to SQLite before the answer and "
        "two socketpair crossings to and from the worker, which the bare app does not have"
    ),
    "rps_bare": (
        "every call crosses the gateway process (key check, quota, a metering row committed to "
        "SQLite before the answer) and then a worker process over a socketpair; the single "
        "gateway event loop saturates first (its workers sit mostly idle), while the bare app "
        "runs the handler inline in two processes with nothing else to do"
    ),
    "rps_sleep": (
        "a worker runs one call at a time, so overlapping 50 ms calls needs as many worker "
        "processes as calls in flight (max_workers), where the others overlap them on threads"
    ),
    "p50_ms": (
        "the same two hops (gateway, then worker over a socketpair) add a fixed cost to every call"
    ),
    "p99_ms": (
        "the gateway and its workers are separate processes competing for the same two cores "
        "with the load generator, so a call waits when the scheduler runs the other side"
    ),
    "rss_mb": (
        "the gateway is one Python process and every worker another, each with its own "
        "interpreter and its own copy of the handler's imports (and of the model)"
    ),
    "start_to_ready_s": (
        "`hub platform start` launches a Python process that opens its SQLite state, restores "
        "the routes and binds the gateway before answering /readyz"
    ),
    "cold_request_ms": (
        "scale-to-zero: after a start the first call spawns a worker process that imports the "
        "handler (and loads the model), which the peers do before they report ready"
    ),
    "first_answer_s": (
        "ours reports ready before the API's worker has imported the handler and loaded the "
        "model, so that import happens after the start instead of before"
    ),
    "idle_rss_mb": (
        "the platform process holds the control plane, the gateway and the SQLite state even "
        "when no worker runs"
    ),
}


def fmt(value, digits=None) -> str:
    """A number for a table: thousands separated, sensible decimals."""
    if value is None:
        return "–"
    if digits is None:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def ratio(value, base) -> str:
    """``value / base`` as ``0.83×``; a dash when either is missing."""
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}×"


def best(values, metric):
    """The best of ``values`` for ``metric`` (highest throughput, else lowest)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values) if metric in LOWER_IS_BETTER else max(values)


# ----------------------------------------------------------------------------------------------
# Serving


def cells_of(serving: dict) -> list[dict]:
    """Flat rows: one per server record and cell, with the record's identity."""
    rows = []
    for rec in serving.get("servers", []):
        for cell in rec.get("cells", []):
            rows.append(
                {
                    **cell,
                    "system": rec["system"],
                    "config": rec["config"],
                    "handler": rec["handler"],
                }
            )
    return rows


def median(cell, metric):
    """The median of ``metric`` in a cell."""
    return (cell.get(metric) or {}).get("median")


def baselines(rows, handler, concurrency, pinned, metric):
    """(bare limit, best peer) for one cell and metric."""
    same = [
        r
        for r in rows
        if r["handler"] == handler and r["concurrency"] == concurrency and r["pinned"] == pinned
    ]
    bare = best([median(r, metric) for r in same if r["system"] == "bare"], metric)
    peer = best([median(r, metric) for r in same if r["system"] in PEERS], metric)
    return bare, peer


def figure(cell, metric, bare, peer, digits=None) -> str:
    """``median [min–max] (×bare, ×peer)``."""
    stats = cell.get(metric) or {}
    med = stats.get("median")
    if med is None:
        return "–"
    spread = f"[{fmt(stats.get('min'), digits)}–{fmt(stats.get('max'), digits)}]"
    return f"{fmt(med, digits)} {spread} ({ratio(med, bare)}, {ratio(med, peer)})"


def serving_tables(serving: dict) -> list[str]:
    """One table per handler (unpinned), rows by system, configuration and concurrency."""
    rows = cells_of(serving)
    out = []
    handlers = []
    for rec in serving.get("servers", []):
        if rec["handler"] not in handlers:
            handlers.append(rec["handler"])
    for handler in handlers:
        out += [
            f"### {handler}",
            "",
            "| system | config | conc. | req/s | p50 ms | p99 ms | errors | server RSS MiB |",
            "|---|---|---:|---|---|---|---:|---|",
        ]
        mine = [r for r in rows if r["handler"] == handler and not r["pinned"]]
        mine.sort(key=lambda r: (r["concurrency"], list(NAMES).index(r["system"]), r["config"]))
        for r in mine:
            cols = []
            for metric in ("rps", "p50_ms", "p99_ms"):
                bare, peer = baselines(rows, handler, r["concurrency"], False, metric)
                cols.append(figure(r, metric, bare, peer))
            bare, peer = baselines(rows, handler, r["concurrency"], False, "rss_mb")
            rss = figure(r, "rss_mb", bare, peer)
            errors = (r.get("errors") or {}).get("max")
            name = f"**{NAMES[r['system']]}**" if r["system"] == "ours" else NAMES[r["system"]]
            out.append(
                f"| {name} | {r['config']} | {r['concurrency']} | {cols[0]} | {cols[1]} | {cols[2]} | "
                f"{fmt(errors, 0)} | {rss} |"
            )
        out.append("")
    return out


def pinned_table(serving: dict) -> list[str]:
    """Echo at one concurrency, unpinned against server on core 0 and wrk on core 1."""
    rows = cells_of(serving)
    pinned = [r for r in rows if r["pinned"]]
    if not pinned:
        return ["No pinned runs in this result."]
    out = [
        "| system | config | conc. | req/s unpinned | req/s pinned | p50 ms unpinned | p50 ms pinned |",
        "|---|---|---:|---|---|---|---|",
    ]
    for p in sorted(pinned, key=lambda r: (list(NAMES).index(r["system"]), r["config"])):
        free = next(
            (
                r
                for r in rows
                if not r["pinned"]
                and (r["system"], r["config"], r["handler"], r["concurrency"])
                == (p["system"], p["config"], p["handler"], p["concurrency"])
            ),
            {},
        )
        cols = []
        for metric in ("rps", "p50_ms"):
            for cell, is_pinned in ((free, False), (p, True)):
                bare, peer = baselines(rows, p["handler"], p["concurrency"], is_pinned, metric)
                cols.append(figure(cell, metric, bare, peer) if cell else "–")
        out.append(
            f"| {NAMES[p['system']]} | {p['config']} | {p['concurrency']} | {cols[0]} | {cols[1]} | "
            f"{cols[2]} | {cols[3]} |"
        )
    return out


def with_first_answer(serving: dict) -> list[dict]:
    """The server records that worked, with ``first_answer_s``: start to ready plus the first call."""
    recs = []
    for r in serving.get("servers", []):
        if r.get("error"):
            continue
        ready, cold = r.get("start_to_ready_s"), r.get("cold_request_ms")
        first = round(ready + cold / 1000, 3) if ready is not None and cold is not None else None
        recs.append({**r, "first_answer_s": first})
    return recs


def startup_table(serving: dict) -> list[str]:
    """Start to ready, first request and idle memory of every server."""
    recs = with_first_answer(serving)
    out = [
        "| system | config | handler | start → ready s | first (cold) request ms | start → first answer s | idle RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]

    def base(handler, metric, systems):
        return best(
            [r.get(metric) for r in recs if r["handler"] == handler and r["system"] in systems],
            metric,
        )

    for r in sorted(
        recs, key=lambda r: (r["handler"], list(NAMES).index(r["system"]), r["config"])
    ):
        cols = []
        for metric in ("start_to_ready_s", "cold_request_ms", "first_answer_s", "idle_rss_mb"):
            value = r.get(metric)
            bare, peer = base(r["handler"], metric, ("bare",)), base(r["handler"], metric, PEERS)
            cols.append(f"{fmt(value)} ({ratio(value, bare)}, {ratio(value, peer)})")
        out.append(
            f"| {NAMES[r['system']]} | {r['config']} | {r['handler']} | {' | '.join(cols)} |"
        )
    return out


def config_table(serving: dict) -> list[str]:
    """What each configuration is."""
    seen = {}
    for r in serving.get("servers", []):
        if r.get("description"):
            seen.setdefault((r["system"], r["config"], r["description"]), []).append(r["handler"])
    out = ["| system | config | handlers | settings |", "|---|---|---|---|"]
    for (system, config, description), handlers in seen.items():
        out.append(f"| {NAMES[system]} | {config} | {', '.join(handlers)} | {description} |")
    return out


def ours_of(rows, config, handler, concurrency, metric):
    """Ours' figure of one configuration in one unpinned cell."""
    for r in rows:
        if (r["system"], r["config"], r["handler"], r["concurrency"], r["pinned"]) == (
            "ours",
            config,
            handler,
            concurrency,
            False,
        ):
            return median(r, metric)
    return None


def goals(serving: dict, sections: dict) -> list[str]:
    """The goals, each configuration of ours on its own, with the figures and met / not met."""
    rows = cells_of(serving)
    out = []
    configs = sorted({r["config"] for r in rows if r["system"] == "ours"})
    for concurrency in (16, 64):
        bare, _ = baselines(rows, "echo", concurrency, False, "rps")
        for config in configs:
            ours = ours_of(rows, config, "echo", concurrency, "rps")
            peer = best(
                [median(r, "rps") for r in rows if r["system"] in PEERS and r["config"] == config
                 and r["handler"] == "echo" and r["concurrency"] == concurrency and not r["pinned"]],
                "rps",
            )  # fmt: skip
            if ours is None or bare is None:
                out.append(
                    f"- Echo at concurrency {concurrency}, ours {config}: **not measured** "
                    "(ours or the bare limit is missing from this run)."
                )
                continue
            against_peer = (
                f"no peer ran a {config} configuration"
                if peer is None
                else f"≥ {GOAL_PEER_RATIO}× the better peer in its {config} configuration "
                f"({fmt(peer)}): **{ours / peer:.2f}×, "
                f"{'met' if ours >= GOAL_PEER_RATIO * peer else 'not met'}**"
            )
            out.append(
                f"- Echo at concurrency {concurrency}, ours {config}: {fmt(ours)} req/s; "
                f"{against_peer}; ≥ {GOAL_BARE_RATIO:.0%} of the bare limit ({fmt(bare)}): "
                f"**{ours / bare:.0%}, {'met' if ours >= GOAL_BARE_RATIO * bare else 'not met'}**."
            )
    bare_p50, _ = baselines(rows, "echo", 1, False, "p50_ms")
    for config in configs:
        ours_p50 = ours_of(rows, config, "echo", 1, "p50_ms")
        if ours_p50 is None or bare_p50 is None:
            continue
        overhead = ours_p50 - bare_p50
        out.append(
            f"- Gateway p50 overhead < {GOAL_OVERHEAD_MS:g} ms (echo, concurrency 1, ours {config}'s "
            f"p50 minus the bare limit's, both end to end over HTTP): {fmt(ours_p50, 3)} − "
            f"{fmt(bare_p50, 3)} = **{overhead:.3f} ms, "
            f"{'met' if overhead < GOAL_OVERHEAD_MS else 'not met'}**."
        )
    if not configs:
        out.append("- Ours: **not measured** in this run (its servers are missing or failed).")
    gateway = (sections.get("gateway") or {}).get("result")
    if gateway:
        found = find_overhead(gateway)
        if found:
            out.append(f"  bench/gateway_bench.py's own measure of the same: {found}.")
    return out


def find_overhead(doc, path="") -> str | None:
    """A p50 overhead figure somewhere in another benchmark's JSON, for the goals' list."""
    hits = []
    for key, value in flatten(doc):
        low = key.lower()
        if (
            ("overhead" in low or "added" in low or "adds" in low)
            and "p50" in low
            and isinstance(value, (int, float))
        ):
            hits.append(f"`{key}` = {value}")
    return "; ".join(hits[:4]) or None


# The figures a configuration is judged on, cell by cell (load) and per server (start, memory).
CELL_METRICS = (
    ("rps", "throughput"),
    ("p50_ms", "p50 latency"),
    ("p99_ms", "p99 latency"),
    ("rss_mb", "memory under load"),
)
# "Start to ready" is not among them: ours answers /readyz before its worker has imported the
# handler, the peers after; "start to first answer" is the same moment for every system.
RECORD_METRICS = (
    ("cold_request_ms", "first (cold) request"),
    ("first_answer_s", "start to first answer"),
    ("idle_rss_mb", "idle memory"),
)


def comparisons(serving: dict) -> list[dict]:
    """Each configuration of ours against the same configuration of each peer, figure by figure.

    A configuration is compared as a whole: every figure of ours/default is set against the same
    figure of LitServe/default (and BentoML/default), never against the best of several
    configurations, and never with ours' best configuration picked per figure.
    """
    rows = [r for r in cells_of(serving) if not r["pinned"]]
    recs = with_first_answer(serving)
    out = []
    ours_configs = sorted({r["config"] for r in recs if r["system"] == "ours"})
    for config in ours_configs:
        for peer in PEERS:
            pair = (config, peer)
            for r in rows:
                if r["system"] != "ours" or r["config"] != config:
                    continue
                other = next(
                    (
                        o
                        for o in rows
                        if o["system"] == peer
                        and o["config"] == config
                        and (o["handler"], o["concurrency"]) == (r["handler"], r["concurrency"])
                    ),
                    None,
                )
                if other is None:
                    continue
                for metric, label in CELL_METRICS:
                    a, b = median(r, metric), median(other, metric)
                    if a is None or b is None:
                        continue
                    out.append(
                        {"pair": pair, "metric": metric, "label": label, "ours": a, "peer": b,
                         "where": f"{r['handler']} c{r['concurrency']}", "handler": r["handler"]}
                    )  # fmt: skip
            for r in recs:
                if r["system"] != "ours" or r["config"] != config:
                    continue
                other = next(
                    (o for o in recs if o["system"] == peer and o["config"] == config
                     and o["handler"] == r["handler"]),
                    None,
                )  # fmt: skip
                if other is None:
                    continue
                for metric, label in RECORD_METRICS:
                    a, b = r.get(metric), other.get(metric)
                    if a is None or b is None:
                        continue
                    out.append(
                        {"pair": pair, "metric": metric, "label": label, "ours": a, "peer": b,
                         "where": r["handler"], "handler": r["handler"]}
                    )  # fmt: skip
    for c in out:
        higher_better = c["metric"] not in LOWER_IS_BETTER
        c["ahead"] = c["ours"] > c["peer"] if higher_better else c["ours"] < c["peer"]
        c["even"] = c["ours"] == c["peer"]
    return out


def _span(items: list[dict]) -> str:
    ratios = [c["ours"] / c["peer"] for c in items if c["peer"]]
    if not ratios:
        return ""
    lo, hi = min(ratios), max(ratios)
    return f"{lo:.2f}×" if abs(hi - lo) < 0.005 else f"{lo:.2f}×–{hi:.2f}×"


def pair_name(pair) -> str:
    config, peer = pair
    return f"ours {config} vs {NAMES[peer]} {config}"


def lead_and_trail(serving: dict) -> tuple[list[str], list[str]]:
    """Per pair of configurations (ours/X against peer/X): where ours is ahead, where behind, why."""
    comps = comparisons(serving)
    lead, trail = [], []
    pairs = []
    for c in comps:
        if c["pair"] not in pairs:
            pairs.append(c["pair"])
    for pair in pairs:
        mine = [c for c in comps if c["pair"] == pair]
        ahead = [c for c in mine if c["ahead"]]
        parts = []
        for metric, label in CELL_METRICS + RECORD_METRICS:
            these = [c for c in ahead if c["metric"] == metric]
            if these:
                parts.append(f"{label} in {', '.join(c['where'] for c in these)} ({_span(these)})")
        lead.append(
            f"- **{pair_name(pair)}**: ahead in {len(ahead)} of {len(mine)} figures"
            + (": " + "; ".join(parts) if parts else "")
            + "."
        )
    for metric, label in CELL_METRICS + RECORD_METRICS:
        behind = [c for c in comps if c["metric"] == metric and not c["ahead"] and not c["even"]]
        if not behind:
            continue
        by_pair = []
        for pair in pairs:
            these = [c for c in behind if c["pair"] == pair]
            if these:
                by_pair.append(
                    f"{pair_name(pair)} in "
                    + ", ".join(
                        f"{c['where']} ({fmt(c['ours'])} vs {fmt(c['peer'])})" for c in these
                    )
                )
        sleep_only = all(c["handler"] == "sleep" for c in behind)
        why = WHY["rps_sleep"] if (metric == "rps" and sleep_only) else WHY[metric]
        trail.append(f"- {label}: {'; '.join(by_pair)}. Why: {why}.")
    return lead, trail


def pair_table(serving: dict) -> list[str]:
    """Every figure of each ours configuration over the same figure of each peer's configuration."""
    comps = comparisons(serving)
    if not comps:
        return ["No configuration of ours has a peer's configuration to compare with in this run."]
    pairs = []
    for c in comps:
        if c["pair"] not in pairs:
            pairs.append(c["pair"])
    keys = []
    for c in comps:
        key = (c["label"], c["where"])
        if key not in keys:
            keys.append(key)
    out = [
        "| figure | " + " | ".join(pair_name(p) for p in pairs) + " |",
        "|---|" + "---|" * len(pairs),
    ]
    for label, where in keys:
        cols = []
        for pair in pairs:
            c = next(
                (
                    x
                    for x in comps
                    if x["pair"] == pair and (x["label"], x["where"]) == (label, where)
                ),
                None,
            )
            if c is None:
                cols.append("–")
            else:
                mark = "**" if c["ahead"] else ""
                cols.append(f"{mark}{ratio(c['ours'], c['peer'])}{mark}")
        out.append(f"| {where}, {label} | " + " | ".join(cols) + " |")
    return out


def behind_bare(serving: dict) -> list[str]:
    """Where each configuration of ours is below the bare limit's throughput, and why."""
    rows = cells_of(serving)
    out = []
    cells = sorted(
        {
            (r["handler"], r["concurrency"], r["config"])
            for r in rows
            if r["system"] == "ours" and not r["pinned"]
        }
    )
    for handler, concurrency, config in cells:
        ours = ours_of(rows, config, handler, concurrency, "rps")
        bare, _ = baselines(rows, handler, concurrency, False, "rps")
        if ours is None or bare is None or ours >= bare:
            continue
        why = (
            WHY["rps_sleep"]
            if handler == "sleep"
            else WHY["rps_c1"]
            if concurrency == 1
            else WHY["rps_bare"]
        )
        out.append(
            f"- {handler}, concurrency {concurrency}, ours {config}: {fmt(ours)} req/s is "
            f"{ours / bare:.0%} of the bare limit's {fmt(bare)}. Why: {why}."
        )
    return out


def flatten(doc, prefix=""):
    """(dotted path, value) for every scalar leaf of a JSON document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            label = None
            if isinstance(value, dict):
                label = next(
                    (
                        str(value[k])
                        for k in ("scenario", "name", "label", "case", "handler")
                        if k in value
                    ),
                    None,
                )
            yield from flatten(value, f"{prefix}[{label or i}]")
    else:
        yield prefix, doc


def short(value) -> str:
    """A value of another benchmark for a table: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def records_table(rows: list[dict]) -> list[str]:
    """A Markdown table of a list of flat-ish records (nested values shown as JSON)."""
    keys = []
    for row in rows:
        for key in row:
            if key not in keys and not isinstance(row[key], (dict, list)):
                keys.append(key)
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        out.append("| " + " | ".join(short(row.get(k, "")) for k in keys) + " |")
    return out


def other_section(title: str, section: dict | None, limit: int = 60) -> list[str]:
    """A section of another part's benchmark: its status and its figures."""
    out = [f"### {title}", ""]
    if not section:
        return out + ["Not run in this pass.", ""]
    if section.get("command"):
        out += [
            f"Command: `{section['command'].replace(str(Path.cwd()) + '/', '')}` ({section.get('seconds', '–')} s).",
            "",
        ]
    if section["status"] == "missing":
        return out + [f"**Missing:** {section.get('error')}.", ""]
    if section["status"] != "ok":
        out += [f"**Failed:** {section.get('error')}.", ""]
    result = section.get("result")
    if not result:
        if section.get("stdout_tail"):
            return out + [
                "What it printed (last lines):",
                "",
                "```",
                section["stdout_tail"],
                "```",
                "",
            ]
        return out + ["No figures.", ""]
    lists = (
        {
            k: v
            for k, v in result.items()
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
        }
        if isinstance(result, dict)
        else {}
    )
    for key, rows in lists.items():
        out += [f"`{key}`:", ""] + records_table(rows) + [""]
    scalars = [
        (k, v)
        for k, v in flatten(
            {k: v for k, v in result.items() if k not in lists}
            if isinstance(result, dict)
            else result
        )
    ]
    if scalars:
        out += ["| figure | value |", "|---|---|"]
        for key, value in scalars[:limit]:
            out.append(f"| `{key}` | {short(value)} |")
        if len(scalars) > limit:
            out.append(f"| … | {len(scalars) - limit} more in bench/results/latest.json |")
        out.append("")
    return out


def profile_section(section: dict | None) -> list[str]:
    """Where the platform's time goes under echo load (bench/profile_ours.py, py-spy)."""
    out = ["## Where the time goes in ours", ""]
    if not section:
        return out + ["Not profiled in this run.", ""]
    result = section.get("result")
    if section.get("status") != "ok" or not result:
        return out + [f"**The profile failed:** {section.get('error')}", ""]
    out += [
        f"py-spy sampled every process of ours at {result.get('rate_hz')} Hz for {result.get('seconds')} s "
        f"while wrk loaded echo at concurrency 16 ({fmt(result.get('rps'))} req/s under the profiler; "
        "`bench/profile_ours.py`). Samples are taken only while a process runs, so a process's "
        "samples over rate × seconds is roughly how busy it was.",
        "",
    ]
    for proc in result.get("processes", []):
        if proc.get("error"):
            out += [f"- {proc['role']} {proc['pid']}: no samples ({proc['error']}).", ""]
        elif proc["role"] == "platform" and proc.get("buckets"):
            out += [
                f"Platform process (gateway, control plane, engine): **{proc['busy_share']:.0%} busy**; its samples by "
                "what they were doing:",
                "",
                "| work | share of samples |",
                "|---|---:|",
            ]
            for label, share in sorted(proc["buckets"].items(), key=lambda kv: -kv[1]):
                out.append(f"| {label} | {share:.0%} |")
            out.append("")
        elif proc["role"] == "worker":
            out.append(
                f"- Worker {proc['pid']}: sampled {proc['busy_share']:.0%} of the time, and "
                f"{proc.get('waiting_share_of_samples', 0):.0%} of those samples were waiting for the next frame."
            )
    procs = result.get("processes", [])
    platform_busy = max(
        (p.get("busy_share", 0) for p in procs if p["role"] == "platform"), default=0
    )
    workers_wait = [p.get("waiting_share_of_samples", 0) for p in procs if p["role"] == "worker"]
    out.append("")
    if platform_busy > 0.7 and workers_wait and min(workers_wait) > 0.5:
        out += [
            "The platform process saturates while the workers mostly wait: the throughput gap to "
            "the bare limit is in that one event loop, not in the workers.",
            "",
        ]
    return out


def build_lead_and_trail(sections: dict) -> tuple[list[str], list[str]]:
    """`hub build` against `bentoml build`, scenario by scenario, with why where we trail."""
    hub = (sections.get("build") or {}).get("result") or {}
    bento = (sections.get("bentoml_build") or {}).get("result") or {}
    bento_rows = {
        r.get("scenario"): r for r in bento.get("results", []) if r.get("exit_code") in (None, 0)
    }
    lead, trail = [], []
    for row in hub.get("results", []):
        other = bento_rows.get(row.get("scenario"))
        h, b = row.get("seconds"), (other or {}).get("seconds")
        if h is None or b is None:
            continue
        where = f"build, {row['scenario']}: `hub build` {fmt(h)} s vs `bentoml build` {fmt(b)} s ({ratio(h, b)})"
        if h < b:
            lead.append(f"- {where}.")
        else:
            trail.append(
                f"- {where}. Why: `hub build` creates the API's Python environment (uv installs and "
                "byte-compiles scikit-learn, NumPy and SciPy) so that a deploy starts at once, where "
                "`bentoml build` only packs files and leaves the environment to `bentoml containerize`."
            )
    return lead, trail


def build_section(sections: dict, serving: dict) -> list[str]:
    """`hub build` next to `bentoml build` for the same scikit-learn project."""
    out = []
    hub = (sections.get("build") or {}).get("result") or {}
    bento = (sections.get("bentoml_build") or {}).get("result") or {}
    hub_rows = {r.get("scenario"): r for r in hub.get("results", [])}
    bento_rows = {r.get("scenario"): r for r in bento.get("results", [])}
    if hub_rows or bento_rows:
        out += [
            f"The scikit-learn project with an extra model file of {hub.get('model_mb_extra', bento.get('model_mb_extra', '?'))} MB. "
            "`hub build` stores files by content and creates (or reuses) the API's Python environment; "
            "`bentoml build` copies the files into a new bento every time and writes the requirements "
            "but creates no environment (that is `bentoml containerize`, which needs Docker), so "
            "its first build is not the same amount of work.",
            "",
            "| scenario | hub build s | bentoml build s | hub ÷ bentoml |",
            "|---|---|---|---|",
        ]
        for scenario in list(dict.fromkeys(list(hub_rows) + list(bento_rows))):
            h = (hub_rows.get(scenario) or {}).get("seconds")
            b = (bento_rows.get(scenario) or {}).get("seconds")
            failed = (bento_rows.get(scenario) or {}).get("exit_code") not in (None, 0)
            out.append(
                f"| {scenario} | {fmt(h)} | {fmt(b)}{' (failed)' if failed else ''} | {ratio(h, b)} |"
            )
        out.append("")
    for name in ("build", "bentoml_build"):
        sec = sections.get(name)
        if sec and sec["status"] != "ok":
            out += [f"`{name}`: **{sec['status']}**: {sec.get('error')}", ""]
    deploys = [
        r
        for r in serving.get("servers", [])
        if r["system"] == "ours" and (r.get("extra") or {}).get("build_deploy_s")
    ]
    if deploys:
        out += [
            "`hub build --deploy` in the serving run (build, upload of nothing locally, worker warm-up):",
            "",
        ]
        out += ["| API | seconds | environment reused |", "|---|---|---|"]
        for r in deploys:
            out.append(
                f"| {r['handler']} ({r['config']}) | {fmt(r['extra']['build_deploy_s'])} | {r['extra'].get('env_reused')} |"
            )
        out.append("")
    return out


TUTORIAL_STEPS = (
    ("hub_init_s", "`hub init sentiment-analyser`"),
    ("first_build_s", "first `hub build` (PyTorch + Transformers installed, model stored)"),
    ("rebuild_s", "`hub build` again, nothing changed"),
    ("deploy_s", "`hub deploy` (a worker imports torch and loads the model before the switch)"),
    ("first_get_s", "first call: the guide's GET (the API is loaded already)"),
    ("first_post_s", "first call: its POST of `sample_inputs[0]`"),
    ("cold_get_s", "after a platform restart: the GET that loads the API in a new worker"),
    ("build_and_deploy_s", "**first build + deploy**"),
)


def tutorial_section(section: dict | None) -> list[str]:
    """The guide's sentiment tutorial step by step, cold and warm cache, beside its 3–4 minutes."""
    title = "### The guide's tutorial (bench/tutorial_bench.py)"
    result = (section or {}).get("result") or {}
    rows = {r.get("cache"): r for r in result.get("results", [])}
    if not rows or section.get("status") != "ok":
        return other_section(title[4:], section)
    caches = [c for c in ("cold", "warm") if c in rows]
    minutes = result.get("guide_build_and_deploy_minutes", "3–4")
    out = [
        title,
        "",
        "The hosted guide's sentiment tutorial as its reader runs it: its `main.py` and "
        "requirements (`torch`, `transformers`: PyPI's CUDA build of PyTorch, about 3 GB), a "
        f"{fmt(rows[caches[0]].get('model_mb'))} MB model (all-MiniLM-L6-v2 with a head trained "
        "here), each pass in a new `HUB_HOME` with the platform already running. Cold: an empty "
        "uv cache, so the first build downloads every package; warm: the user's uv cache, as for "
        f"a second project. The guide quotes **{minutes} minutes** for build and deploy.",
        "",
        "| step | " + " | ".join(f"{c} cache, s" for c in caches) + " |",
        "|---|" + "---:|" * len(caches),
    ]
    for key, label in TUTORIAL_STEPS:
        out.append(f"| {label} | " + " | ".join(fmt(rows[c].get(key)) for c in caches) + " |")
    out.append(f"| the guide: build + deploy | {minutes} min |" + " |" * (len(caches) - 1))
    total = ", ".join(
        f"{rows[c]['build_and_deploy_s'] / 60:.1f} min with a {c} cache"
        for c in caches
        if rows[c].get("build_and_deploy_s") is not None
    )
    cold_mb = rows.get("cold", {}).get("cold_cache_mb")
    out += [
        "",
        f"First build + deploy: {total}, against the guide's {minutes} minutes"
        + (f"; the cold pass put {fmt(cold_mb / 1000, 1)} GB into its uv cache" if cold_mb else "")
        + f" (1-minute load at the end: {(result.get('loadavg') or ['?'])[0]}).",
        "",
    ]
    return out


def batch_section(section: dict | None) -> list[str]:
    """Adaptive batching and streaming (bench/batch_bench.py): req/s of each system per model."""
    title = "Adaptive batching and streaming (bench/batch_bench.py)"
    result = (section or {}).get("result") or {}
    if not isinstance(result, dict) or "models" not in result:
        return other_section(title, section)  # not run, failed, or an older result's shape
    out = [f"### {title}", ""]
    if section.get("command"):
        command = section["command"].replace(str(Path.cwd()) + "/", "")
        out += [f"Command: `{command}` ({section.get('seconds', '–')} s).", ""]
    if section.get("status") != "ok":
        out += [f"**Failed:** {section.get('error')}.", ""]
    concurrency = [str(c) for c in result.get("concurrency", [])]
    out += [
        f"Closed-loop wrk, one run of {result.get('seconds_per_run')} s per cell after a first "
        "call and a 2 s warm-up; one row per request; requests/s (1-minute load when measured). "
        "Batched: ours `@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)`, BentoML "
        "`batchable=True, max_batch_size=32`, LitServe `max_batch_size=32, batch_timeout=0.005`; "
        "2 workers each.",
        "",
        "| model | system | " + " | ".join(f"c{c} req/s" for c in concurrency) + " |",
        "|---|---|" + "---|" * len(concurrency),
    ]
    for model, doc in result["models"].items():
        for name, cells in doc.get("throughput", {}).items():
            figures = [
                f"{fmt(cells[c]['rps'])} (load {cells[c].get('load_average', ['?'])[0]})"
                if c in cells else "–"
                for c in concurrency
            ]  # fmt: skip
            out.append(f"| {model} | {name.replace('_', ' ')} | " + " | ".join(figures) + " |")
        for name, error in doc.get("errors", {}).items():
            out.append(f"| {model} | {name.replace('_', ' ')} | **failed:** {error[:200]} |")
    out += [""]
    for model, doc in result["models"].items():
        for cell, ratios in (doc.get("ratios") or {}).items():
            shown = [f"{k.replace('_vs_', ' / ').replace('_', ' ')} {v:.2f}×"
                     for k, v in ratios.items() if v is not None]  # fmt: skip
            if shown:
                out.append(f"- {model} {cell}: " + "; ".join(shown) + ".")
    ours, lit = result.get("stream_ours") or {}, result.get("stream_litserve") or {}
    if ours.get("ttfb_p50_ms") is not None:
        peer = (
            f"LitServe {fmt(lit['ttfb_p50_ms'], 2)} ms"
            if lit.get("ttfb_p50_ms") is not None
            else f"LitServe failed: {lit.get('error')}"
        )
        out.append(
            f"- Streaming, time to first byte p50 over {ours.get('calls')} sequential calls: ours "
            f"{fmt(ours['ttfb_p50_ms'], 2)} ms, {peer}"
            + (
                f" ({result['stream_ttfb_ours_vs_litserve']:.2f}×)."
                if result.get("stream_ttfb_ours_vs_litserve")
                else "."
            )
        )
    return out + [""]


def serving_section(serving: dict, settings: dict) -> list[str]:
    """The Serving section's text and tables (the serving benchmark ran)."""
    out: list[str] = []
    out += [
        f"Closed-loop load with wrk, {settings.get('runs')} runs of {settings.get('duration_s')} s per cell "
        "after a 1 s warm-up; each figure is the median [min–max] of the runs, then (×bare, ×peer): "
        "its ratio to the bare limit and to the best peer in the same cell. Throughput counts "
        "successful answers only; server RSS is summed over the server's process tree (peak "
        "during the run). Ours is called through the real gateway with `x-api-key`: key check, "
        "quota and rate-limit checks (a plan without limits, so nothing is refused) and metering "
        "of every call. Same body for every system: "
        + ", ".join(f"{h} `{b}`" for h, b in settings.get("payloads", {}).items())
        + ".",
        "",
    ]
    if settings.get("skipped"):
        out += [
            "Not run: "
            + ", ".join(
                f"{NAMES.get(p.split('/')[0], p)} {p.split('/')[-1]}" for p in settings["skipped"]
            )  # fmt: skip
            + " (`serving.py --skip`; the bare limit is the best of the bare app's "
            "configurations that ran).",
            "",
        ]
    out += [
        "### Configurations",
        "",
    ]
    out += config_table(serving) + [""]
    failed = [r for r in serving.get("servers", []) if r.get("error")]
    if failed:
        out += ["Servers that failed in this run (their rows are missing below):", ""]
        out += [
            f"- {NAMES.get(r['system'], r['system'])} {r['config']} {r['handler']}: {r['error']}"
            for r in failed
        ]
        out += [""]
    out += serving_tables(serving)
    out += ["### Each configuration against each peer's", ""]
    out += [
        "Ours over the peer, figure by figure, for the same configuration name (bold: ours "
        "ahead; throughput higher is better, the rest lower).",
        "",
    ]
    out += pair_table(serving) + [""]
    out += ["### Start, first request, idle memory", ""]
    out += [
        "Start → ready: from launching the server to its readiness check answering 200 "
        "(ours: `hub platform start` to `/readyz`, with the API already deployed). "
        "First request: the first POST after that, on a new connection. Start → first "
        "answer: the two added, the time a caller waits after a restart.",
        "",
    ]
    out += startup_table(serving) + [""]
    out += ["### Pinned or not", ""]
    out += [
        "The same servers, after their unpinned runs, moved to core 0 (every process of the tree, "
        "and the workers they start later inherit it) with wrk on core 1.",
        "",
    ]
    out += pinned_table(serving) + [""]

    return out


def safe(what: str, fn, *args, fallback=None):
    """``fn(*args)``, or, when a section's result has a shape the report does not know (a
    failed or partial run), one clear line instead of a traceback that would lose the report."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one odd section must not lose the whole report
        line = (
            f"- **{what}: the figures could not be rendered** ({type(exc).__name__}: {exc}); "
            "the raw result is in bench/results/latest.json."
        )
        return fallback(line) if fallback else [line, ""]


# ----------------------------------------------------------------------------------------------


def render(results: dict) -> str:
    """The whole of BENCHMARKS.md."""
    sections = results.get("sections", {})
    serving_sec = sections.get("serving") or {}
    serving = serving_sec.get("result") or {}
    if not isinstance(serving, dict):
        serving = {}
    m = results.get("machine", {})
    out = [
        "# Benchmarks",
        "",
        f"Generated by `bench/run.sh` from the run of {results.get('started_at', '?')} "
        f"({results.get('seconds', '?')} s); do not edit by hand: run it again. The raw figures are in "
        "[`bench/results/latest.json`](bench/results/latest.json); how it works is in "
        "[`bench/README.md`](bench/README.md).",
        "",
    ]
    merged = results.get("merged") or {}
    if merged:  # results written by the old `run.sh --only ... --merge`
        out += [
            "**Not one run:** these sections were run again later and merged in: "
            + ", ".join(f"{name} ({m.get('started_at')})" for name, m in sorted(merged.items()))
            + ". A full `bench/run.sh` makes every figure from one run.",
            "",
        ]
    if results.get("quick"):
        out += [
            "**Quick pass** (2 runs of 2 s per serving cell, every other section with the short "
            "arguments of bench/run.py's SECTIONS): it checks that everything runs, its figures are "
            "not for comparison.",
            "",
        ]
    out += ["## Goals", ""]
    out += (
        safe("Goals", goals, serving, sections)
        if serving
        else ["- Serving was not measured in this run."]
    )
    out += [""]

    lead, trail = (
        safe("Serving comparison", lead_and_trail, serving, fallback=lambda x: ([x], []))
        if serving
        else ([], [])
    )
    build_lead, build_trail = safe(
        "Build comparison", build_lead_and_trail, sections, fallback=lambda x: ([x], [])
    )
    lead, trail = lead + build_lead, trail + build_trail
    out += ["## Where we lead", ""]
    out += [
        "Each configuration of ours against the same configuration of each peer, as a whole "
        "(every figure of one configuration against the same figure of the other; the table under "
        "Serving has them all). Start → ready is left out: ours answers its readiness check before "
        "its worker imports the handler; start → first answer is the same moment for everyone.",
        "",
    ]
    out += (lead or ["- Nowhere in this run."]) + [""]
    out += ["## Where we trail, and why", ""]
    out += ["Against the peers, configuration against configuration:", ""]
    out += (trail or ["- Nowhere in this run."]) + [""]
    bare_gap = safe("Bare limit", behind_bare, serving, fallback=lambda x: [x]) if serving else []
    out += (
        ["Against the bare limit (throughput):", ""]
        + (bare_gap or ["- Nowhere in this run."])
        + [""]
    )

    out += safe("Profile", profile_section, sections.get("profile"))
    out += [
        "## Machine and load",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m.get('cpu')} |",
        f"| cores | {m.get('cores')} |",
        f"| memory | {m.get('memory_gib')} GiB |",
        f"| kernel | {m.get('kernel')} |",
        f"| OS | {m.get('os')} |",
        f"| Python | {m.get('python')} |",
        f"| load before | `{(results.get('load_before') or {}).get('uptime')}` |",
        f"| load after | `{(results.get('load_after') or {}).get('uptime')}` |",
        "",
    ]
    loads = [(results.get(k) or {}).get("loadavg", [0])[0] for k in ("load_before", "load_after")]
    if max(loads) > 0.5 * (m.get("cores") or 1):
        out += [
            f"The machine was busy (1-minute load {max(loads):.1f} on {m.get('cores')} cores): other work "
            "shared the cores during the run, so absolute figures are lower and noisier than on an idle "
            "machine; the systems ran one after another in the same conditions, so the ratios are the "
            "figures to read.",
            "",
        ]

    versions = serving.get("versions", {})
    peers = versions.get("peers", {})
    ours = versions.get("ours", {})
    settings = serving.get("settings", {})
    out += [
        "## Versions",
        "",
        "| system | version |",
        "|---|---|",
        f"| ours (jupyter_hub_api) | {ours.get('jupyter_hub_api')} (commit {ours.get('commit')}) |",
        f"| LitServe | {peers.get('litserve')} |",
        f"| BentoML | {peers.get('bentoml')} |",
        f"| uvicorn / Starlette (bare limit) | {peers.get('uvicorn')} / {peers.get('starlette')} (uvloop {peers.get('uvloop')}, httptools {peers.get('httptools')}) |",
        f"| scikit-learn | {peers.get('scikit-learn')} |",
        f"| Python of the peers | {peers.get('python')} |",
        f"| load generator | {settings.get('load_generator')} |",
        "",
    ]

    out += ["## Serving", ""]
    if serving_sec and serving_sec.get("status") != "ok":
        out += [f"**The serving benchmark failed:** {serving_sec.get('error')}", ""]
    if serving:
        out += safe("Serving", serving_section, serving, settings)

    out += ["## Build and deploy", ""] + safe("Build", build_section, sections, serving)
    out += safe("Tutorial", tutorial_section, sections.get("tutorial"))

    out += ["## The other benchmarks", ""]
    for name, title in (
        ("gateway", "Gateway (bench/gateway_bench.py)"),
        ("engine", "Local engine (bench/engine_bench.py)"),
        ("engine_http", "Engine behind HTTP (bench/engine_http_bench.py)"),
        ("logstream", "Log streaming of the server extension (bench/logstream_bench.py)"),
        ("frontend", "Frontend (bench/frontend_bench.*)"),
        ("connections", "Idle and slow connections (bench/connections_bench.py)"),
        ("control", "Control plane with history, and a delete under load (bench/control_bench.py)"),
        ("ray", "Ray engine against plain Ray Serve (bench/ray_bench.py)"),
        ("gateway_ab", "Gateway against the bare limit, alternating rounds (bench/gateway_ab.py)"),
        ("batch", "Adaptive batching and streaming (bench/batch_bench.py)"),
        ("fork", "Workers forked from a loaded template (bench/fork_bench.py)"),
        ("scale", "50 users x 5 APIs on one platform (bench/scale_bench.py)"),
        ("database", "SQLite against PostgreSQL (bench/db_bench.py)"),
        ("sandbox", "Tenant sandbox: worker start (bench/sandbox_bench.py)"),
        ("journey", "From the launcher tile to a prediction (bench/journey_bench.*)"),
    ):
        render_one = batch_section if name == "batch" else partial(other_section, title)
        out += safe(title, render_one, sections.get(name))
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(json.loads(Path(sys.argv[1]).read_text())))
