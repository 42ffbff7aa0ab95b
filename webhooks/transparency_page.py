"""The /transparency page: server-rendered HTML with inline SVG charts, Tamil or English, no script."""

from __future__ import annotations

from dataclasses import fields
from html import escape
from typing import Any

from core.ledger.params import Params
from core.ledger.transparency import Books, DayFigures
from flows.books import face_review_text
from flows.i18n import day, money, translator

W, H = 300, 120  # chart viewBox; the SVG scales to the phone's width


def _pool_chart(series: list[tuple[str, DayFigures, int]], lang: str) -> str:
    """Bars of contributions in (up) and top-ups out (down) per day, and the balance as a line."""
    top = max([1, *(f.pool_in for _d, f, _b in series), *(b for _d, _f, b in series)])
    bottom = max([0, *(f.pool_out for _d, f, _b in series)])
    scale = (H - 10) / (top + bottom)
    base = 5 + top * scale
    step = W / len(series)
    parts = [f'<line x1="0" x2="{W}" y1="{base:.1f}" y2="{base:.1f}" stroke="#999" stroke-width="0.5"/>']
    points = []
    for i, (d, f, balance) in enumerate(series):
        x = i * step
        label = escape(day(d, lang))
        w = step - 2
        if f.pool_in:
            h = f.pool_in * scale
            parts.append(f'<rect class="pool-in" data-day="{d}" data-paise="{f.pool_in}" x="{x + 1:.1f}" y="{base - h:.1f}" '
                         f'width="{w:.1f}" height="{h:.1f}" fill="#2e7d32"><title>{label}: +{money(f.pool_in, lang)}</title></rect>')
        if f.pool_out:
            h = f.pool_out * scale
            parts.append(f'<rect class="pool-out" data-day="{d}" data-paise="{f.pool_out}" x="{x + 1:.1f}" y="{base:.1f}" '
                         f'width="{w:.1f}" height="{h:.1f}" fill="#c62828"><title>{label}: −{money(f.pool_out, lang)}</title></rect>')
        points.append(f"{x + step / 2:.1f},{base - balance * scale:.1f}")
    parts.append(f'<polyline class="pool-balance" data-paise="{",".join(str(b) for _d, _f, b in series)}" '
                 f'points="{" ".join(points)}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    return f'<svg id="pool-chart" viewBox="0 0 {W} {H}" role="img" width="100%">{"".join(parts)}</svg>'


def _meals_chart(series: list[tuple[str, DayFigures, int]], lang: str) -> str:
    """Bars of meals delivered per day."""
    top = max([1, *(f.meals for _d, f, _b in series)])
    step, scale = W / len(series), (H - 10) / top
    parts = [f'<line x1="0" x2="{W}" y1="{H - 5}" y2="{H - 5}" stroke="#999" stroke-width="0.5"/>']
    for i, (d, f, _b) in enumerate(series):
        if f.meals:
            h = f.meals * scale
            parts.append(f'<rect class="meals" data-day="{d}" data-meals="{f.meals}" x="{i * step + 1:.1f}" y="{H - 5 - h:.1f}" '
                         f'width="{step - 2:.1f}" height="{h:.1f}" fill="#ef6c00"><title>{escape(day(d, lang))}: {f.meals}</title></rect>')
    return f'<svg id="meals-chart" viewBox="0 0 {W} {H}" role="img" width="100%">{"".join(parts)}</svg>'


STYLE = """
body{font-family:system-ui,'Noto Sans Tamil',sans-serif;margin:0 auto;max-width:40rem;padding:0.75rem;line-height:1.45;color:#222}
h1{font-size:1.35rem;margin:0.2rem 0}h2{font-size:1.1rem;margin:1.2rem 0 0.3rem}
.big{font-size:1.8rem;font-weight:700}.muted{color:#555;font-size:0.9rem}
table{border-collapse:collapse;width:100%;font-size:0.9rem}td,th{padding:0.2rem 0.3rem;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right}code{word-break:break-all;font-size:0.8rem}svg{display:block;background:#fafafa;border:1px solid #eee}
nav a{margin-right:0.8rem}
"""


def render_page(books: Books, today: str, params: Params, checkpoint: dict[str, Any] | None, lang: str) -> str:
    """The whole page for one language."""
    _ = translator(lang)
    series = books.series(today)
    open_, settled = books.orders()
    e = escape
    T = {  # every sentence of the page, translated before the template (the extractor reads no f-strings)
        "t0": _("Ketpaar: the open books"),
        "t1": _("Every figure here is computed from the public event log, which anyone can download and check."),
        "t2": _("Worker guarantee pool"),
        "t3": _("Last 30 days: green, delivery-fee shares in; red, top-ups out; blue line, the balance."),
        "t4": _("Meals delivered per day"),
        "t5": _("Money in and out per day"),
        "t6": _("Day"),
        "t7": _("In"),
        "t8": _("Out"),
        "t9": _("Orders"),
        "t10": _("Areas served"),
        "t11": _("Meals delivered per area of about 5 km; no exact place is shown."),
        "t12": _("Rules now in force"),
        "t13": _("Amounts in paise, shares in basis points; set at setup or by a passed proposal."),
        "t14": _("The chain"),
        "t15": _("Last daily checkpoint:"),
        "t16": _("Check it yourself: download /api/events and run: python -m ketpaar_verify events.jsonl"),
        "t17": _("The duplicate check"),
    }
    T = {k: e(v) for k, v in T.items()}
    meals_30 = sum(f.meals for _d, f, _b in series)
    meals_text = e(_("{n} in the last 30 days").format(n=meals_30))
    orders_text = e(_("{open} open, {settled} settled").format(open=open_, settled=settled))
    face = books.face_review()
    face_text = e(face_review_text(_, face))
    chain_text = e(_("{n} events; newest hash:").format(n=books.seq))
    no_money = e(_("No money moved in the last 30 days."))
    setup = _("setup")
    moves = [(d, f) for d, f, _b in series if f.money_in or f.money_out]
    rows_money = "".join(
        f'<tr data-day="{d}"><td>{e(day(d, lang))}</td><td class="n">{e(money(f.money_in, lang))}</td>'
        f'<td class="n">{e(money(f.money_out, lang))}</td></tr>' for d, f in reversed(moves)
    ) or f'<tr><td colspan="3">{no_money}</td></tr>'
    rows_params = "".join(
        f'<tr><td><code>{f.name}</code></td><td class="n">{getattr(params, f.name)}</td>'
        f"<td>{e(books.params[f.name].source if f.name in books.params else setup)}</td></tr>"
        for f in fields(Params)
    )
    rows_areas = "".join(f'<tr><td><code>{e(a)}</code></td><td class="n">{n}</td></tr>' for a, n in books.areas.most_common(20))
    if checkpoint:
        cp = _("Day {day}: event {seq}, head {head}, signed by key {key}.").format(
            day=e(day(str(checkpoint["day"]), lang)), seq=checkpoint["seq"],
            head=f"<code>{e(str(checkpoint['head']))}</code>", key=f"<code>{e(str(checkpoint['key']))}</code>")
    else:
        cp = e(_("No daily checkpoint has been signed yet."))
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{T['t0']}</title><style>{STYLE}</style></head><body>
<nav><a href="?lang=ta" lang="ta">தமிழ்</a><a href="?lang=en" lang="en">English</a></nav>
<h1>{T['t0']}</h1>
<p class="muted">{T['t1']}</p>
<h2>{T['t2']}</h2>
<p class="big" id="pool-balance" data-paise="{books.pool}">{e(money(books.pool, lang))}</p>
{_pool_chart(series, lang)}
<p class="muted">{T['t3']}</p>
<h2>{T['t4']}</h2>
<p id="meals-30" data-meals="{meals_30}">{meals_text}</p>
{_meals_chart(series, lang)}
<h2>{T['t5']}</h2>
<table id="money"><tr><th>{T['t6']}</th><th>{T['t7']}</th><th>{T['t8']}</th></tr>{rows_money}</table>
<h2>{T['t9']}</h2>
<p id="orders" data-open="{open_}" data-settled="{settled}">{orders_text}</p>
<h2>{T['t17']}</h2>
<p id="face-checks" data-asked="{face.asked}" data-review="{face.for_review}">{face_text}</p>
<h2>{T['t10']}</h2>
<p class="muted">{T['t11']}</p>
<table id="areas">{rows_areas}</table>
<h2>{T['t12']}</h2>
<p class="muted">{T['t13']}</p>
<table id="params">{rows_params}</table>
<h2>{T['t14']}</h2>
<p id="chain" data-length="{books.seq}">{chain_text} <code>{e(books.head)}</code></p>
<p>{T['t15']} <span id="checkpoint">{cp}</span></p>
<p class="muted">{T['t16']}</p>
</body></html>"""
