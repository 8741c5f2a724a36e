"""The re-survey page in a real browser: Debian's chromium driven by Selenium through chromium-driver.

The link is taken from the e-mail the SMTP server received; the browser clicks it, writes a
comment and submits the form; `show N` then has the answer and the comment. Nothing downloads a
browser: the test skips, with the reason, when /usr/bin/chromium or /usr/bin/chromedriver is absent.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.mail.resurvey import run_due
from tests.mail.test_mail_loop import open_followup

pytestmark = pytest.mark.browser
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture
def browser():
    if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="npsbot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except Exception as exc:  # a machine where Chromium cannot start
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium could not start: {str(exc).splitlines()[0][:200]}")
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


async def test_a_customer_answers_the_resurvey_and_comments_in_a_browser(loop, smtp, clock, browser):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    await open_followup(loop)
    loop.say("close 1 resolved")
    clock.advance(days=30, hours=1)
    assert run_due(loop.rt) == 1
    await loop.drain()
    text = smtp.messages[-1].get_body(("plain",)).get_content()
    url = re.search(r"^9: (http://127\.0\.0\.1:\d+/r/\S+/9)\r?$", text, re.MULTILINE).group(1)

    def text_of(by: str, value: str) -> str:
        # Asked again should Chromium's inspector lose the node under load ("Node with given id
        # does not belong to the document", seen once in a CI run).
        return WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
            lambda b: b.find_element(by, value).text)

    def answer_in_browser() -> tuple[str, str]:
        browser.get(url)
        page = browser.find_element(By.TAG_NAME, "main")
        first = text_of(By.TAG_NAME, "main")
        box = browser.find_element(By.ID, "comment")  # the label points at it: accessible
        assert text_of(By.CSS_SELECTOR, "label[for=comment]").startswith("Anything")
        box.send_keys("Much better since the fix <b>thanks</b>")
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        # The answer is a new page: wait for it (a loaded machine can take seconds), then read it.
        WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))
        return first, text_of(By.TAG_NAME, "main")

    first, after = await asyncio.to_thread(answer_in_browser)
    assert "We recorded your answer: 9 out of 10." in first
    assert "Thank you, we've added your comment." in after
    shown = loop.say("show 1")
    assert "re-surveyed: 9" in shown
    assert "9/10  Much better since the fix <b>thanks</b>" in shown
