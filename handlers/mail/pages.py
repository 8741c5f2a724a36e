"""The customer's pages: `GET /r/<token>/<score>` (re-survey answer), its comment form, unsubscribe.

Small, accessible HTML (labels, focus outlines, no JavaScript), rendered by Jinja2 with
autoescaping. A forged or expired token gets a 4xx page and stores nothing. The comment form and
the unsubscribe form POST with a hidden signed CSRF value bound to the link's token, and are
refused when the browser says the request came from another site. Pages are never framed,
cached or indexed, and send no Referer (the token is in the URL).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.mail.compose import BUILTIN
from bot.mail.resurvey import add_comment, record_answer, unsubscribe
from bot.mail.tokens import BadToken, check_csrf, csrf_token

_ENV = Environment(loader=FileSystemLoader(str(BUILTIN)), autoescape=select_autoescape(("html",)))
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


def page(status: int = 200, **context) -> web.Response:
    context.setdefault("lines", [])
    html = _ENV.get_template("page.html").render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def refused(exc: BadToken, status: int | None = None) -> web.Response:
    return page(status or exc.status, title="This link does not work", lines=[exc.message, "Nothing was recorded."])


def _cross_site(request: web.Request) -> bool:
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


def mount(app: web.Application, services) -> None:
    rt = services.rt

    def answered(token: str, score: int, who: str, comment: str | None, *, thanked: bool = False) -> web.Response:
        lines = [f"We recorded your answer: {score} out of 10."]
        if thanked:
            lines = ["Thank you, we've added your comment."]
        return page(
            title=f"Thank you, {who}" if who else "Thank you", lines=lines, score=score,
            scores=[(s, f"/r/{token}/{s}") for s in range(11)], form_action=f"/r/{token}",
            csrf=csrf_token(rt, token), comment_box=True, comment=comment, button="Send comment")

    async def answer(request: web.Request) -> web.Response:
        token, raw_score = request.match_info["token"], request.match_info["score"]
        if not raw_score.isdigit() or not 0 <= int(raw_score) <= 10:
            return refused(BadToken("Scores go from 0 to 10."), 400)
        try:
            result = await asyncio.to_thread(record_answer, rt, token, int(raw_score))
        except BadToken as exc:
            return refused(exc)
        return answered(token, result.score, result.customer, result.comment)

    async def comment(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if request.content_length and request.content_length > 20_000:
            return page(413, title="That comment is too long", lines=["Please keep it under 2,000 characters."])
        form = await request.post()
        if _cross_site(request) or not check_csrf(rt, token, str(form.get("csrf", ""))):
            return page(403, title="Please use the form on our page",
                        lines=["This request did not come from our page, so nothing was recorded."])
        try:
            result = await asyncio.to_thread(add_comment, rt, token, str(form.get("comment", "")))
        except BadToken as exc:
            return refused(exc)
        return answered(token, result.score, result.customer, result.comment, thanked=True)

    async def unsubscribe_form(request: web.Request) -> web.Response:
        # GET only asks: mail scanners follow links, and must not unsubscribe anyone.
        token = request.match_info["token"]
        return page(title="Unsubscribe", lines=["Stop all e-mail from us about your feedback?"],
                    form_action=f"/u/{token}", csrf=csrf_token(rt, token), button="Unsubscribe")

    async def unsubscribe_post(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        form = await request.post()
        if _cross_site(request) or not check_csrf(rt, token, str(form.get("csrf", ""))):
            return page(403, title="Please use the form on our page", lines=["Nothing was changed."])
        try:
            await asyncio.to_thread(unsubscribe, rt, token)
        except BadToken as exc:
            return refused(exc)
        return page(title="You are unsubscribed", lines=["We won't e-mail you about your feedback again."])

    app.router.add_get("/r/{token}/{score}", answer)
    app.router.add_post("/r/{token}", comment)
    app.router.add_get("/u/{token}", unsubscribe_form)
    app.router.add_post("/u/{token}", unsubscribe_post)
