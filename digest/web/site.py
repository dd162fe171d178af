"""The archive's routes in `digest serve`: the home page and its pages, each issue, the feed, the sitemap."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.app.context import Context
from digest.back.signup import offered_lists
from digest.core.errors import IssueError
from digest.web.archive import atom_feed, feed_content, index_page, issue_page, pages_of, sent_issues, sitemap
from digest.web.home import Links, page_html

__all__ = ["archive_routes", "ARCHIVE_HEADERS"]

# The archive shows the issues' images (https) and submits the form to our own /subscribe; no script at all.
ARCHIVE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def archive_routes(ctx: Context) -> list[Route]:
    """GET /archive/, /archive/page/N/, /archive/N, /archive/feed.xml and /archive/sitemap.xml."""
    settings = ctx.settings

    def lists() -> tuple[str, ...]:
        return offered_lists(settings.signup, subscribers=ctx.workspace.subscribers)

    def not_found() -> Response:
        return HTMLResponse(page_html(settings, title="Not found", main="<h1>No such page</h1>",
                                      links=Links()), status_code=404, headers=ARCHIVE_HEADERS)

    async def index(request: Request) -> Response:
        """GET /archive/ (and /archive/page/N/): the home page, issues newest first."""
        page = request.path_params.get("page", 1)
        issues = await run_in_threadpool(sent_issues, ctx)
        if page == 1 and "page" in request.path_params:
            return RedirectResponse("/archive/", status_code=301)  # page 1 is the home page itself
        if not 1 <= page <= pages_of(issues):
            return not_found()
        return HTMLResponse(index_page(settings, issues, page=page, lists=lists()), headers=ARCHIVE_HEADERS)

    async def issue(request: Request) -> Response:
        """GET /archive/{number}: the web version of a sent issue, in the site's frame."""
        number = request.path_params["number"]
        issues = await run_in_threadpool(sent_issues, ctx)
        if number not in {i.number for i in issues}:
            return not_found()
        try:
            page = await run_in_threadpool(issue_page, ctx, issues, number, lists=lists())
        except IssueError:
            return not_found()
        return HTMLResponse(page, headers=ARCHIVE_HEADERS)

    async def feed(request: Request) -> Response:
        """GET /archive/feed.xml: the Atom feed, each entry the issue's web version."""

        def make() -> str:
            issues = sent_issues(ctx)
            return atom_feed(settings, issues, {n.number: feed_content(ctx, n.number) for n in issues})

        return Response(await run_in_threadpool(make), media_type="application/atom+xml",
                        headers={"X-Content-Type-Options": "nosniff"})

    async def site_map(request: Request) -> Response:
        """GET /archive/sitemap.xml."""
        issues = await run_in_threadpool(sent_issues, ctx)
        return Response(sitemap(settings, issues), media_type="application/xml",
                        headers={"X-Content-Type-Options": "nosniff"})

    return [Route("/archive/", index), Route("/archive/page/{page:int}/", index),
            Route("/archive/feed.xml", feed), Route("/archive/sitemap.xml", site_map),
            Route("/archive/{number:int}", issue)]
