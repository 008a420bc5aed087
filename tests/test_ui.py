"""The triage page (`acu-audit ui`): a real server on loopback, a real browser, a real nightly run beside it.

The force is small and its nights run in place (no Prefect); the page is served by uvicorn in a
thread, exactly as `acu-audit ui` serves it, and driven over HTTP and through Debian's chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # generates and runs a force


@pytest.fixture(scope="module")
def ui_force(tmp_path_factory) -> Path:
    """A 150-staff force over 16 days with its 15th night published; the 16th drop is left for a test to run."""
    from acu_audit.config import load_settings
    from acu_audit.flow.nightly import run_night, settle_night
    from acu_audit.synth import generate_force

    root = tmp_path_factory.mktemp("ui")
    generate_force(root, staff=150, days=16, seed=5)
    drops = sorted(p.name for p in (root / "landing").iterdir())
    run_night(settle_night(landing=root / "landing", db=root / "acu_audit.duckdb", out=root / "out",
                           settings=load_settings(None), as_of=date.fromisoformat(drops[-2]), validate=False))
    return root


@pytest.fixture
def force(ui_force, tmp_path) -> Path:
    """A copy of the force for one test (actions change its state file)."""
    root = tmp_path / "force"
    shutil.copytree(ui_force, root, symlinks=True)
    return root


@dataclass
class Page:
    url: str
    config: object


@contextmanager
def served(root: Path, actor: str = "analyst1"):
    import uvicorn

    from acu_audit.ui.app import UiConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = UiConfig.for_server(db=root / "acu_audit.duckdb", state=root / "acu_audit.state.duckdb", out=root / "out",
                                 host="127.0.0.1", port=port, actor=actor)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the page did not start"
        time.sleep(0.05)
    try:
        yield Page(f"http://127.0.0.1:{port}", config)
    finally:
        server.should_exit = True
        thread.join(10)


def fetch(url: str, *, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def audit_actions(root: Path, lead_id: str) -> list[tuple[str, str]]:
    from acu_audit.state import open_state

    with open_state(root / "acu_audit.state.duckdb", read_only=True) as store:
        return [(r["actor"], r["action"]) for r in store.audit_entries() if r["target"] == lead_id]


def first_lead(html: str) -> str:
    return re.search(r'href="/leads/(L-[0-9a-f]+)"', html).group(1)


def test_the_queue_and_a_lead_are_served_with_safe_headers_and_filters(force):
    with served(force) as page:
        status, headers, html = fetch(page.url + "/")
        assert status == 200
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert "<script>" not in html and " style=" not in html  # nothing inline: the policy would block it
        rows = re.findall(r'<tr class="tier-(\w+)">', html)
        assert rows and rows == sorted(rows, key=lambda t: t != "review")  # the review tier first
        _, _, by_score = fetch(page.url + "/?sort=score")
        scores = [float(x) for x in re.findall(r'<tr class="tier-\w+">.*?<td class="num">([0-9.]+)</td>', by_score, re.S)]
        assert len(scores) > 1 and scores == sorted(scores, reverse=True)
        _, _, review = fetch(page.url + "/?tier=review")
        assert set(re.findall(r'<tr class="tier-(\w+)">', review)) <= {"review"}
        lead_id = first_lead(html)
        _, _, found = fetch(page.url + "/?" + urllib.parse.urlencode({"q": lead_id[:6]}))
        assert lead_id in found
        _, _, nothing = fetch(page.url + "/?q=sr-nobody")
        assert "No lead matches" in nothing
        status, _, lead = fetch(page.url + f"/leads/{lead_id}")
        assert status == 200 and "Checks that fired" in lead and "Timeline" in lead and "<svg" in lead
        assert fetch(page.url + "/leads/L-0000000000")[0] == 404


def test_an_action_without_the_token_from_another_site_or_for_another_host_is_refused(force):
    with served(force) as page:
        lead_id = first_lead(fetch(page.url + "/")[2])
        before = audit_actions(force, lead_id)
        status, _, html = fetch(page.url + f"/leads/{lead_id}/assign", data={"to": "mallory"})
        assert status == 403 and "token" in html
        status, _, _ = fetch(page.url + f"/leads/{lead_id}/assign", data={"to": "mallory", "token": page.config.token},
                             headers={"Origin": "http://evil.example"})
        assert status == 403
        host = page.url.split("//")[1].replace("127.0.0.1", "evil.example")
        status, _, html = fetch(page.url + "/", headers={"Host": host})
        assert status == 400 and "refused" in html
        assert audit_actions(force, lead_id) == before  # nothing was done
        status, _, html = fetch(page.url + f"/leads/{lead_id}/status",
                                data={"status": "no_further_action", "token": page.config.token})
        assert status == 400 and "needs a note" in html  # the CLI's rule, from the same function


def test_the_cli_and_the_page_assign_through_one_function_and_one_audit_log(force):
    from typer.testing import CliRunner

    from acu_audit.cli import app

    with served(force, actor="analyst1") as page:
        lead_id = first_lead(fetch(page.url + "/")[2])
        cli = CliRunner().invoke(app, ["lead", "assign", lead_id, "--to", "bob", "--db", str(force / "acu_audit.duckdb"),
                                       "--actor", "sergeant"])
        assert cli.exit_code == 0, cli.output
        _, _, html = fetch(page.url + f"/leads/{lead_id}")
        assert re.search(r'id="lead-assignee">bob<', html)
        status, headers, _ = fetch(page.url + f"/leads/{lead_id}/assign", data={"to": "carol", "token": page.config.token})
        assert status == 200  # followed the redirect back to the lead
        _, _, html = fetch(page.url + "/?assignee=carol")
        assert re.findall(r'href="/leads/(L-[0-9a-f]+)"', html) == [lead_id]  # only carol's lead
    assert audit_actions(force, lead_id)[:2] == [("analyst1", "assign_lead"), ("sergeant", "assign_lead")]


def test_a_reveal_needs_a_reason_is_recorded_and_is_never_cached(force):
    with served(force) as page:
        lead_id = first_lead(fetch(page.url + "/")[2])
        before = reveals(force)
        status, _, html = fetch(page.url + f"/leads/{lead_id}/reveal", data={"reason": " ", "token": page.config.token})
        assert status == 400 and "needs a reason" in html
        assert reveals(force) == before  # refused: nothing recorded
        status, headers, html = fetch(page.url + f"/leads/{lead_id}/reveal",
                                      data={"reason": "referral R-1", "token": page.config.token})
        assert status == 200 and headers["cache-control"] == "no-store"
        assert re.search(r'class="reveal"><strong>S\d+', html)
        _, _, lead = fetch(page.url + f"/leads/{lead_id}")
        assert not re.search(r">S\d{4,}<", lead)  # the lead page itself never shows the identity
    assert ("analyst1", "show_lead") in audit_actions(force, lead_id)
    assert reveals(force)[len(before):] == [("analyst1", "referral R-1", lead_id)]


def reveals(root: Path) -> list[tuple]:
    import json

    from acu_audit.state import open_state

    with open_state(root / "acu_audit.state.duckdb", read_only=True) as store:
        return [(r["actor"], r["reason"], json.loads(r["detail"]).get("lead_id"))
                for r in store.db.records("SELECT * FROM reveals ORDER BY recorded_at")]


def test_a_half_filled_suppression_is_refused_not_widened(force):
    """Choosing "this member of staff with one subject" and no subject must not suppress everything about them."""
    from acu_audit.state import open_state

    with served(force) as page:
        lead_id = first_lead(fetch(page.url + "/")[2])
        form = {"scope": "pair", "subject": "", "reason": "declared carer", "owner": "ACU", "expires": "2099-01-01",
                "token": page.config.token}
        status, _, html = fetch(page.url + f"/leads/{lead_id}/suppress", data=form)
        assert status == 400 and "needs the subject" in html
        status, _, _ = fetch(page.url + f"/leads/{lead_id}/suppress", data={**form, "scope": "everything"})
        assert status == 400
        status, _, html = fetch(page.url + f"/leads/{lead_id}/suppress", data={**form, "scope": "staff"})
        assert status == 200 and "suppress" in re.search(r'<table class="audit">.*?</table>', html, re.S).group(0)
    with open_state(force / "acu_audit.state.duckdb", read_only=True) as store:
        assert [r["kind"] for r in store.list_suppressions()] == ["staff"]


def test_reads_do_not_wait_behind_an_action_waiting_for_the_night(force):
    """Another process holds the state file (as the nightly run does); an action waits for it, and
    meanwhile the queue is still served, with its "state busy" note, before the action ends."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(force / 'acu_audit.state.duckdb')!r})\n"
        "print('holding', flush=True)\n"
        "time.sleep(4)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with served(force) as page:
            lead_id = "L-0000000000"
            outcome: list[int] = []
            action = threading.Thread(target=lambda: outcome.append(
                fetch(page.url + f"/leads/{lead_id}/assign", data={"to": "x", "token": page.config.token})[0]))
            action.start()
            time.sleep(0.5)  # the action is now waiting for the state file
            status, _, html = fetch(page.url + "/")
            still_waiting = action.is_alive()
            action.join(30)
            assert status == 200 and "State busy" in html
            assert still_waiting  # the read was served while the action waited
            assert outcome and outcome[0] in (400, 409)  # busy, or (once released) no such lead
    finally:
        holder.wait(30)
        holder.stdout.close()


def _chromium():
    """Debian's chromium through Playwright. A browser test that cannot run in CI is a failure there."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        why = "Debian's chromium is not installed (.ci/run installs it)" if chromium is None else "playwright is missing"
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {why}")
        pytest.skip(why)
    return chromium, sync_playwright


@pytest.mark.browser
def test_an_analyst_works_leads_in_a_real_browser(force, tmp_path):
    chromium, sync_playwright = _chromium()
    shots = Path(os.environ.get("ACU_AUDIT_SCREENSHOTS") or tmp_path)  # docs/ screenshots come from this test
    with served(force, actor="analyst1") as page, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.goto(page.url + "/")
            tab.screenshot(path=str(shots / "ui-queue.png"))
            # Filter to the review tier with the form, then open the first lead.
            tab.select_option("select[name=tier]", "review")
            tab.click("button:has-text('Filter')")
            assert "tier=review" in tab.url
            assert set(tab.locator("tbody tr").evaluate_all("rows => rows.map(r => r.className)")) <= {"tier-review"}
            tab.click("a.lead-link >> nth=0")
            lead_id = tab.url.rsplit("/", 1)[1]
            # Assign it, then refer it with a note: both appear in its history, as the actor.
            tab.fill("form[action$='/assign'] input[name=to]", "analyst1")
            tab.click("form[action$='/assign'] button")
            assert tab.inner_text("#lead-assignee") == "analyst1"
            tab.select_option("form[action$='/status'] select[name=status]", "referred")
            tab.fill("form[action$='/status'] input[name=note]", "referred to PSD, ref R-7")
            tab.click("form[action$='/status'] button")
            assert tab.inner_text("#lead-status") == "referred"
            audit = tab.locator("table.audit").inner_text()
            assert "set status" in audit and "referred to PSD, ref R-7" in audit and "analyst1" in audit
            tab.screenshot(path=str(shots / "ui-lead.png"), full_page=True)
            assert not errors, errors  # every script and stylesheet loaded under the page's policy
            # The same form without its token is refused, and nothing is recorded.
            before = audit_actions(force, lead_id)
            tab.evaluate("document.querySelector(\"form[action$='/assign'] input[name=token]\").remove()")
            tab.fill("form[action$='/assign'] input[name=to]", "mallory")
            tab.click("form[action$='/assign'] button")
            assert "refused" in tab.inner_text("main")
            assert audit_actions(force, lead_id) == before
        finally:
            browser.close()
    assert ("analyst1", "set_status") in audit_actions(force, lead_id)


def test_twenty_readers_during_a_nightly_publish_see_no_error_and_do_not_block_it(force):
    """The night runs in its own process (as the scheduler runs it) and publishes the 16th night
    while twenty readers load the queue and a lead; no reader fails, the night finishes, and the
    page then shows the new night."""
    drops = sorted(p.name for p in (force / "landing").iterdir())
    script = (
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from acu_audit.config import load_settings\n"
        "from acu_audit.flow.nightly import run_night, settle_night\n"
        f"root = Path({str(force)!r})\n"
        "run_night(settle_night(landing=root / 'landing', db=root / 'acu_audit.duckdb', out=root / 'out',\n"
        f"    settings=load_settings(None), as_of=date.fromisoformat({drops[-1]!r}), validate=False))\n"
    )
    with served(force) as page:
        queue = fetch(page.url + "/")[2]
        lead_id = first_lead(queue)
        shown_before = fetch(page.url + "/night.json")[2]
        failures: list[str] = []
        served_count = [0]
        stop = threading.Event()

        def reader(k: int) -> None:
            paths = ["/", f"/leads/{lead_id}", "/?tier=watch&sort=score", "/night.json"]
            i = 0
            while not stop.is_set():
                status, _, body = fetch(page.url + paths[(i + k) % len(paths)])
                if status != 200:
                    failures.append(f"{paths[(i + k) % len(paths)]}: {status} {body[:200]}")
                served_count[0] += 1
                i += 1

        readers = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(20)]
        for t in readers:
            t.start()
        night = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
        stop.set()
        for t in readers:
            t.join(60)
        assert night.returncode == 0, night.stderr[-3000:]
        served_during_night = served_count[0]
        assert not failures, failures[:5]
        assert served_during_night >= 40  # the readers kept being served while the night ran
        shown_after = fetch(page.url + "/night.json")[2]
        assert drops[-1] in shown_after and shown_after != shown_before


def test_a_referral_pack_is_exported_from_the_page_with_its_reason(force):
    """The page's export is the CLI's: a new frozen folder, its manifest naming the reason and the actor."""
    import json

    with served(force, actor="analyst1") as page:
        lead_id = first_lead(fetch(page.url + "/")[2])
        status, _, html = fetch(page.url + f"/leads/{lead_id}/export", data={"reason": "", "token": page.config.token})
        assert status == 400 and "needs a reason" in html
        status, _, html = fetch(page.url + f"/leads/{lead_id}/export", data={"reason": "PSD 7", "token": page.config.token})
        assert status == 200 and "Referral pack written" in html
    (pack,) = (force / "referrals").iterdir()
    manifest = json.loads((pack / "manifest.json").read_text())
    assert (manifest["lead_id"], manifest["reason"], manifest["actor"], manifest["revealed_identities"]) == (
        lead_id, "PSD 7", "analyst1", False)
    assert ("analyst1", "export_lead") in audit_actions(force, lead_id)
