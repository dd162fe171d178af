"""What a new user sees on the first run: each mistake answered with where it is and what to do."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from digest.app.context import Context
from digest.cli import main
from digest.web.server import create_app
from tests.web_helpers import ThreadedUvicorn


@pytest.fixture
def fresh(tmp_path: Path, runner, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace as `digest init` makes it, and the current folder."""
    root = tmp_path / "weekly"
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    for name in ("DIGEST_SECRET", "DIGEST_DATABASE_URL", "DIGEST_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.mark.parametrize("command", [["build"], ["send"], ["status"], ["preview"]])
def test_a_folder_without_digest_toml_says_digest_init(tmp_path: Path, runner, monkeypatch, command):
    folder = tmp_path / "somewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = runner.invoke(main, command)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"digest: error: {folder} is not a digest workspace (no digest.toml): run digest init "
                           "there first, or pass -C FOLDER (")
    assert list(folder.iterdir()) == []  # nothing made in the wrong folder


def _config_error(runner, root: Path, text: str) -> str:
    (root / "digest.toml").write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    return line


def test_an_unknown_key_names_its_line_the_key_meant_and_the_valid_keys(fresh: Path, runner):
    line = _config_error(runner, fresh, '# my newsletter\n[newsletter]\nname = "Harbour"\n\n[theme]\n'
                                        'brand_colour = "#123456"\n')
    assert line == ("digest: error: digest.toml:6: unknown key 'brand_colour' in [theme]; did you mean "
                    "'brand_color'? valid keys: background_color, brand_color, content_background, "
                    "dark_background_color, dark_brand_color, dark_content_background, dark_muted_color, "
                    "dark_text_color, font_family, logo_url, muted_color, text_color, width")


def test_an_unknown_section_is_suggested_too(fresh: Path, runner):
    line = _config_error(runner, fresh, '[newsletter]\nname = "Harbour"\n[themes]\nwidth = 500\n')
    assert line.startswith("digest: error: digest.toml:3: unknown section [themes]; did you mean [theme]? valid "
                           "sections: bounces, dkim, esp, fetch,")


def test_a_wrong_type_or_value_names_its_line(fresh: Path, runner):
    assert _config_error(runner, fresh, '[theme]\n\nwidth = "600"\n') == \
        "digest: error: digest.toml:3: [theme] width must be a whole number, not a string"
    assert _config_error(runner, fresh, '[newsletter]\nname = "x"\n[smtp]\nhost = "mail.example.org"\nport = 70000\n') \
        == "digest: error: digest.toml:5: [smtp] port must be between 1 and 65535"
    assert _config_error(runner, fresh, '[newsletter]\nintro = """\nfrom = 1\n"""\nfrom = "not an address"\n') \
        .startswith("digest: error: digest.toml:2: unknown key 'intro' in [newsletter];")
    assert _config_error(runner, fresh, '[newsletter]\n"from" = "not an address"\n') \
        .startswith("digest: error: digest.toml:2: [newsletter] from: ")


def test_collect_to_a_file_is_one_row_per_line_with_dates_as_dates(fresh: Path, runner):
    title = "A Harbour Authority Report on the Long and Winding Works at the North Quay, Its Costs and Its Delays"
    (fresh / "pages" / "report.txt").write_text(f"{title}\nSource: Harbour Gazette | 2026-05-18\nBy Ada Quay\n"
                                                "First paragraph of the report.\nSecond paragraph.\n")
    result = runner.invoke(main, ["collect", "pages"])  # the runner's stdout is no terminal, like a pipe
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "kind\tpublished\ttitle\tsource\tparagraphs\ttop news"
    assert lines[1:] == [f"page\t2026-05-18\t{title}\tHarbour Gazette\t2\t0"]


def test_a_text_file_that_is_no_page_dump_says_what_was_expected(fresh: Path, runner):
    (fresh / "pages" / "notes.txt").write_text("Harbour notes\nThe quay opens on Monday.\n")
    result = runner.invoke(main, ["collect", "pages/notes.txt"])
    assert result.exit_code == 0
    assert ("pages/notes.txt: not a feed or HTML, and no 'Position: …' or 'Source: name | date' line as a page dump "
            "has; read as plain text anyway: first line the title, each other line a paragraph") in result.stderr
    assert "Position/Source label" not in result.stderr


def _request(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a local test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_subscribe_on_a_workspace_with_one_list_needs_no_list_field(fresh: Path):
    assert [p.name for p in (fresh / "subscribers").glob("*.csv")] == ["list.csv"]
    with ThreadedUvicorn(create_app(Context(fresh))) as web:
        status, form = _request(web.url + "/subscribe")
        assert status == 200 and "<select" not in form and ">List<" not in form
        status, body = _request(web.url + "/subscribe", b"email=new.reader%40example.net")
    assert status == 200 and "Check your inbox" in body


def test_mistakes_in_sources_and_fetch_name_their_line(fresh: Path, runner):
    two = '[[sources]]\nurl = "https://a.example.org/feed"\n\n[[sources]]\nurl = "https://b.example.org/feed"\n'
    assert _config_error(runner, fresh, two + 'kind = "rss"\n') == \
        'digest: error: digest.toml:6: [[sources]] #2 kind must be "feed", "page" or "auto"'
    assert _config_error(runner, fresh, two + "max_itmes = 3\n") == (
        "digest: error: digest.toml:6: unknown key 'max_itmes' in [[sources]] #2; did you mean 'max_items'? "
        "valid keys: full_text, kind, max_items, url")
    assert _config_error(runner, fresh, "[fetch]\n\ntimeuot = 3\n").startswith(
        "digest: error: digest.toml:3: unknown key 'timeuot' in [fetch]; did you mean 'timeout'? valid keys: ")


def test_init_points_at_digest_check(tmp_path: Path, runner):
    result = runner.invoke(main, ["init", str(tmp_path / "news")])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == ("Before the first real send: set [newsletter] from and base_url and "
                                              "[smtp] in digest.toml, then run digest check")


def test_version_names_the_distribution(runner):
    from importlib import metadata

    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"digest {metadata.version('digest-newsletter')} (digest-newsletter)\n"
