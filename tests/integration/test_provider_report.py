"""The monthly provider report on a real (SQLite) database: two providers
over November 2026, one clearly better than the other."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from careline.reports import build_provider_report, main, month_bounds
from config.evaluation import get_evaluation_config
from db import tables as t
from db.migrate import upgrade
from db.reports import read_month
from db.session import engine_for

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOV = datetime(2026, 11, 1, 8, tzinfo=UTC)
GOOD, POOR = "gulou-care", "xuanwu-help"
NAMES = {GOOD: "Gulou Home Care", POOR: "Xuanwu Helpers"}


def _request(rid: str, start: datetime) -> dict:
    return dict(
        request_id=rid,
        elder_id="e1",
        service_type="meal",
        duration_minutes=60.0,
        window_start=start,
        window_end=start + timedelta(minutes=30),
        service_area="gulou",
        submitted_at=start - timedelta(hours=2),
        priority="routine",
        channel="hotline",
        location_index=1,
        window_hard=False,
        window_at_service_end=False,
        sync_is_follower=False,
        sync_min_gap=0.0,
        sync_max_gap=0.0,
        status="completed",
        received_at=None,  # every row names the same columns: one executemany inserts them all
        version=1,
    )


def _visit(rid, provider, caregiver, start, lateness, status="completed", minutes=45.0) -> dict:
    arrived = status != "no-show"
    check_in = start + timedelta(minutes=lateness) if arrived else None
    return dict(
        visit_id=f"v-{rid}",
        request_id=rid,
        caregiver_id=caregiver,
        provider_id=provider,
        elder_id="e1",
        service_type="meal",
        location_index=1,
        planned_start=start,
        planned_end=start + timedelta(minutes=60),
        status=status,
        check_in_at=check_in,
        check_out_at=check_in + timedelta(minutes=minutes) if arrived else None,
        lateness_minutes=lateness if arrived else 0.0,
        travel_minutes=10.0,
    )


def _offer(rid, n, caregiver, created, status, seconds) -> dict:
    return dict(
        offer_id=f"o-{rid}-{n}",
        request_id=rid,
        caregiver_id=caregiver,
        planned_start=created,
        planned_end=created + timedelta(hours=1),
        created_at=created,
        expires_at=created + timedelta(seconds=120),
        travel_minutes=10.0,
        lateness_minutes=0.0,
        short_code="1234",
        status=status,
        policy_version="test",
        responded_at=created + timedelta(seconds=seconds) if seconds is not None else None,
    )


def _feedback(rid, n, kind, rating=None, category=None, comment=None, at=NOV, visit=True) -> dict:
    return dict(
        feedback_id=f"f-{rid}-{n}",
        request_id=rid,
        kind=kind,
        rating=rating,
        category=category,
        comment=comment,
        received_at=at,
        visit_id=f"v-{rid}" if visit else None,
    )


def _month_rows():
    """20 visits per provider across November, plus one in December that must not count."""
    rows = {k: [] for k in ("care_requests", "visits", "offers", "feedback", "center_ratings")}
    for i in range(20):
        start = NOV + timedelta(days=i * 1.45)
        for provider, cg in ((GOOD, f"{GOOD}-cg{i % 2}"), (POOR, f"{POOR}-cg{i % 2}")):
            rid = f"{provider}-{i}"
            rows["care_requests"].append(_request(rid, start))
            created = start - timedelta(hours=1)
            if provider == GOOD:
                rows["visits"].append(_visit(rid, provider, cg, start, lateness=3.0 if i == 7 else 0.0))
                rows["offers"].append(_offer(rid, 0, cg, created, "accepted", 40))
                rows["feedback"].append(_feedback(rid, 0, "rating", rating=5 if i % 3 else 4))
            else:
                status = "no-show" if i % 10 == 9 else "completed"
                rows["visits"].append(
                    _visit(
                        rid,
                        provider,
                        cg,
                        start,
                        lateness=20.0 if i % 3 == 0 else 2.0,
                        status=status,
                        minutes=20.0 if i == 4 else 45.0,
                    )
                )
                rows["offers"].append(_offer(rid, 0, cg, created, "timeout" if i % 2 else "rejected", None))
                rows["offers"].append(_offer(rid, 1, cg, created, "accepted", 100))
                rows["feedback"].append(_feedback(rid, 0, "rating", rating=3 if i % 2 else 2))
                if i % 5 == 0:
                    rows["feedback"].append(_feedback(rid, 1, "complaint", category="late"))
            rows["center_ratings"].append(
                dict(
                    visit_id=f"v-{rid}",
                    request_id=rid,
                    provider_id=provider,
                    information_correct=i % 4 != 0,
                    notice_sufficient=i % 2 == 0,
                    stars=4 if provider == GOOD and i < 4 else None,
                    rated_at=start,
                )
            )
    dec = NOV.replace(month=12)
    rows["care_requests"].append(_request("late-dec", dec))
    rows["visits"].append(_visit("late-dec", GOOD, f"{GOOD}-cg0", dec, lateness=90.0))
    rows["care_requests"].append(_request("never-visited", NOV))  # a request no visit was made for
    rows["feedback"].append(
        _feedback("never-visited", 9, "complaint", category="no-show", comment="nobody came", visit=False)
    )
    return rows


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'careline.db'}"
    upgrade(url)
    with engine_for(url).begin() as conn:
        conn.execute(insert(t.elders).values(elder_id="e1", service_area="gulou", location_index=1))
        for pid, name in NAMES.items():
            conn.execute(insert(t.provider_organisations).values(provider_id=pid, name=name, service_area="gulou"))
            for n in range(2):
                conn.execute(
                    insert(t.caregivers).values(
                        caregiver_id=f"{pid}-cg{n}",
                        provider_id=pid,
                        service_area="gulou",
                        abilities="meal",
                        shift_start=NOV,
                        shift_end=NOV + timedelta(hours=8),
                    )
                )
        for table, values in _month_rows().items():
            conn.execute(insert(getattr(t, table)), values)
    return url


def test_the_month_holds_only_novembers_visits_and_lists_unusable_feedback(database):
    start, end = month_bounds("2026-11", SHANGHAI)
    data = read_month(database, start, end, get_evaluation_config().evv)
    assert len(data.visits) == 40 and len(data.offers) == 60
    assert len(data.ratings) == 40 and len(data.complaints) == 4 and len(data.center) == 40
    assert data.skipped == ["feedback f-never-visited-9 (complaint): no visit to attribute it to"]


def test_a_request_redispatched_after_a_no_show_counts_its_rating_once_and_both_acceptances(database):
    """Caregiver A accepted and did not come (the offer is ``canceled`` since), B accepted and
    came; the elder's one rating is about B's visit. A: one offer accepted, one no-show, no
    rating; B: one offer accepted, one visit, the rating."""
    from handlers.evaluation.kpis import caregiver_kpis

    rid, a, b, day = "redispatched", f"{GOOD}-a", f"{GOOD}-b", NOV + timedelta(days=2)
    no_show = dict(_visit(rid, GOOD, a, day, 0.0, status="no-show"), visit_id=f"o-{rid}-0.v")
    came = dict(_visit(rid, GOOD, b, day, 5.0), visit_id=f"o-{rid}-1.v")
    with engine_for(database).begin() as conn:
        conn.execute(
            insert(t.caregivers),
            [
                dict(
                    caregiver_id=c,
                    provider_id=GOOD,
                    service_area="gulou",
                    abilities="meal",
                    shift_start=NOV,
                    shift_end=NOV,
                )
                for c in (a, b)
            ],
        )
        conn.execute(insert(t.care_requests), [_request(rid, day)])
        conn.execute(insert(t.visits), [no_show, came])
        conn.execute(insert(t.offers), [_offer(rid, 0, a, day, "canceled", 30), _offer(rid, 1, b, day, "accepted", 60)])
        conn.execute(insert(t.feedback), [dict(_feedback(rid, 0, "rating", rating=2), visit_id=came["visit_id"])])
    start, end = month_bounds("2026-11", SHANGHAI)
    data = read_month(database, start, end, get_evaluation_config().evv)
    mine = [
        [x for x in items if x.caregiver_id in (a, b)]
        for items in (data.offers, data.visits, data.ratings, data.complaints)
    ]
    kpis = caregiver_kpis(*mine, get_evaluation_config().kpis)
    assert (kpis[a].offers, kpis[a].acceptance_rate, kpis[a].no_shows, kpis[a].ratings) == (1, 1.0, 1, 0)
    assert (kpis[b].offers, kpis[b].acceptance_rate, kpis[b].visits, kpis[b].ratings, kpis[b].mean_stars) == (
        1,
        1.0,
        1,
        1,
        2.0,
    )


def test_the_report_ranks_the_punctual_provider_above_the_late_one(database, tmp_path):
    files = build_provider_report(database, "2026-11", tmp_path / "out", languages=["en"], zone="Asia/Shanghai")["en"]
    html, pdf_path = files.html.read_text(), files.pdf
    assert NAMES[GOOD] in html and NAMES[POOR] in html
    ranking = html.split('id="ranking"')[1].split("</table>")[0]
    assert re.findall(r'data-provider="([^"]+)"', ranking) == [GOOD, POOR]
    assert "data:image/png;base64," in html
    assert "nobody came" not in html and "f-never-visited-9" in html  # the unusable row is listed by id
    # providers' ratings of the center: information right 15 of 20 per provider, notice 10 of 20
    assert "40 ratings: information right 75%" in html and "notice enough 50%; score 62.5 / 100" in html
    assert "4.0 stars on average" in html
    assert pdf_path.read_bytes().startswith(b"%PDF") and len(_pdf_pages(pdf_path)) >= 2


def test_a_malformed_month_is_refused_naming_the_argument(database, tmp_path, capsys):
    assert main("2026-13", tmp_path, database) == 2
    assert "--month" in capsys.readouterr().err
    assert main("2026-11", tmp_path / "fr", database, "fr") == 2
    assert "--lang" in capsys.readouterr().err and not (tmp_path / "fr").exists()
    assert main("2026-11", tmp_path / "ok", database, "both") == 0
    written = sorted(p.name for p in (tmp_path / "ok").iterdir() if p.suffix in (".html", ".pdf"))
    assert written == [f"providers-2026-11.{lang}.{ext}" for lang in ("en", "zh") for ext in ("html", "pdf")]


def test_stored_evv_flags_count_against_the_provider_unless_a_review_corrected_them(database):
    from sqlalchemy import update

    from handlers.evaluation.kpis import provider_kpis

    flags = {f"v-{GOOD}-0": "outside_geofence", f"v-{GOOD}-1": "wrong_phone", f"v-{GOOD}-2": "incomplete_checklist"}
    with engine_for(database).begin() as conn:
        for visit_id, code in flags.items():
            conn.execute(
                update(t.visits)
                .where(t.visits.c.visit_id == visit_id)
                .values(evv_flags=[{"code": code, "detail": "kept at check-in"}])
            )
        conn.execute(
            insert(t.evv_reviews),
            [
                dict(
                    visit_id=f"v-{GOOD}-1",
                    code="wrong_phone",
                    outcome="corrected",
                    note="landline on file was old",
                    operator_id="op",
                    reviewed_at=NOV,
                ),
                dict(
                    visit_id=f"v-{GOOD}-2",
                    code="incomplete_checklist",
                    outcome="rejected",
                    note="no meal delivered",
                    operator_id="op",
                    reviewed_at=NOV,
                ),
            ],
        )
    data = read_month(database, *month_bounds("2026-11", SHANGHAI), get_evaluation_config().evv)
    flagged = sorted(v.evv_flags for v in data.visits if v.provider_id == GOOD and v.evv_flags)
    assert flagged == [("incomplete_checklist",), ("outside_geofence",)]  # the corrected phone flag is gone
    kpis = provider_kpis(data.offers, data.visits, data.ratings, data.complaints, get_evaluation_config().kpis)
    assert kpis[GOOD].evv_compliance_rate == 18 / 20


A4_LANDSCAPE = (841.89, 595.28)  # points
SECTIONS = {
    "en": [
        "Summary against targets",
        "Unserved requests",
        "Ranking by composite score",
        "Change from last month",
        "On-time arrivals by week",
        "Satisfaction and complaints",
        "The center, as providers rate it",
        "Caregivers",
        "Targets and their sources",
        "How the numbers are made",
    ],
    "zh": [
        "目标达成概览",
        "未得到服务的请求",
        "综合评分排名",
        "与上月相比",
        "每周准时到达",
        "满意度与投诉",
        "服务商对中心的评价",
        "护理员",
        "目标及其依据",
        "指标计算方法",
    ],
}


@pytest.fixture
def with_october_and_unserved(database):
    """October: the punctual provider was late half the time (so November is better). November:
    a failed emergency, a routine bathing request left waiting, a cancelled one, and an emergency
    an operator acknowledged 30 s after it came in."""
    oct_ = NOV - timedelta(days=20)
    rows = {"care_requests": [], "visits": [], "offers": []}
    for i in range(10):
        rid, start = f"oct-{i}", oct_ + timedelta(days=i)
        rows["care_requests"].append(_request(rid, start))
        rows["visits"].append(_visit(rid, GOOD, f"{GOOD}-cg0", start, lateness=30.0 if i % 2 else 0.0))
        rows["offers"].append(_offer(rid, 0, f"{GOOD}-cg0", start - timedelta(hours=1), "accepted", 40))
    day = NOV + timedelta(days=10)
    extra = [
        _request("sos-failed", day) | dict(priority="stat", service_type="emergency", status="failed", received_at=day),
        _request("bath-waiting", day) | dict(service_type="bathing", status="received", received_at=day),
        _request("cancelled", day) | dict(status="cancelled"),
        _request("sos-answered", day) | dict(priority="stat", service_type="emergency", received_at=day),
    ]
    rows["care_requests"] += extra
    with engine_for(database).begin() as conn:
        for table, values in rows.items():
            conn.execute(insert(getattr(t, table)), values)
        conn.execute(
            insert(t.emergency_acknowledgements).values(
                request_id="sos-answered", operator_id="op", acknowledged_at=day + timedelta(seconds=30)
            )
        )
    return database


def _pdf_pages(path):
    """(width, height) in points, the page rendered as an image, and the text of each page."""
    import pypdfium2
    from pypdf import PdfReader

    reader = PdfReader(path)
    document = pypdfium2.PdfDocument(path)
    pages = []
    for n, page in enumerate(reader.pages):
        image = document[n].render(scale=1).to_pil().convert("L")
        pages.append(((float(page.mediabox.width), float(page.mediabox.height)), image, page.extract_text()))
    return pages


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pdf_has_every_section_on_a4_landscape_pages_in_the_reports_language(
    with_october_and_unserved, tmp_path, lang
):
    files = build_provider_report(
        with_october_and_unserved, "2026-11", tmp_path, languages=[lang], zone="Asia/Shanghai"
    )
    pages = _pdf_pages(files[lang].pdf)
    assert len(pages) >= 3
    for (width, height), image, _ in pages:
        assert (width, height) == pytest.approx(A4_LANDSCAPE, abs=0.5)  # one page size, every page
        assert image.size[0] == 842 and abs(image.size[1] - 595) <= 1  # drawn at 72 dpi
        dark = sum(image.histogram()[:128])  # pixels drawn: text, tables, plots
        assert dark > 2000, "a blank page"
    text = "\n".join(page_text for _, _, page_text in pages)
    flat = re.sub(r"\s+", "", text)
    at = 0
    for heading in SECTIONS[lang]:  # each section, in the HTML's order
        at = flat.find(re.sub(r"\s+", "", heading), at)
        assert at >= 0, f"section {heading!r} missing (or out of order) in the PDF"
    assert f"{GOOD}-cg0" in flat and f"{POOR}-cg1" in flat  # the caregiver table made it into the PDF
    assert "sos-failed" in flat and "bath-waiting" in flat  # the unserved requests are listed
    if lang == "zh":  # Chinese text is drawn with a CJK font, not as missing-glyph boxes
        from pypdf import PdfReader

        fonts = {
            str(font.get_object()["/BaseFont"])
            for page in PdfReader(files[lang].pdf).pages
            for font in page["/Resources"].get("/Font", {}).values()
        }
        assert any(re.search(r"WenQuanYi|CJK|SourceHan|Noto-?Sans-?SC", f) for f in fonts), fonts


def test_the_report_marks_targets_compares_with_last_month_and_counts_unserved_requests(
    with_october_and_unserved, tmp_path
):
    files = build_provider_report(
        with_october_and_unserved, "2026-11", tmp_path, languages=["en", "zh"], zone="Asia/Shanghai"
    )
    html = files["en"].html.read_text(encoding="utf-8")
    # 41 completed + 4 new November requests: 1 cancelled (withdrawn), 2 unserved
    assert "45 requests this month: 42 served, 2 unserved, 1 withdrawn" in html
    summary = html.split('id="summary"')[1].split("</table>")[0]
    served = summary.split('data-kpi="served"')[1].split("</tr>")[0]
    assert "95%" in served and "≥ 99%" in served and 'class="missed"' in served
    sos = summary.split('data-kpi="emergencies_answered"')[1].split("</tr>")[0]
    assert (
        "(60 s)" in sos and "50%" in sos and "≥ 97.5%" in sos and 'class="missed"' in sos
    )  # 1 of 2 answered within 60 s
    on_time = summary.split('data-kpi="on_time"')[1].split("</tr>")[0]
    assert 'class="met"' not in on_time or "≥ 90%" in on_time
    change = html.split('id="change"')[1].split("</table>")[0]
    good = change.split(NAMES[GOOD])[1].split("</tr>")[0]
    assert "new this month" not in good  # Gulou had October visits: a score to compare with
    assert 'class="better"' in good  # on time went up from October's 50%
    poor = change.split(NAMES[POOR])[1].split("</tr>")[0]
    assert "new this month" in poor
    unserved = html.split('id="unserved-requests"')[1].split("</table>")[0]
    assert "sos-failed" in unserved and "bath-waiting" in unserved and "cancelled" not in unserved
    assert "2026-11-11 16:00" in unserved  # 08:00 UTC shown in Shanghai's time

    zh = files["zh"].html.read_text(encoding="utf-8")
    assert "服务商考核报告，2026年11月" in zh and "中国标准时间 (Asia/Shanghai)" in zh
    unserved_zh = zh.split('id="unserved-requests"')[1].split("</table>")[0]
    assert "助急" in unserved_zh and "特急" in unserved_zh and "助浴" in unserved_zh
    words = set(re.findall(r">([a-z][a-z -]+)<", unserved_zh))
    assert not words & {"failed", "received", "stat", "routine", "emergency", "bathing"}, words
    assert "未达标" in zh.split('id="summary"')[1].split("</table>")[0]
    assert "权重 准时 0.25, 完成 0.2" in zh  # the definitions name the KPIs in Chinese too
